"""Trainers: determinism, exact resume (at an epoch boundary and after a real kill mid-epoch), bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import Poisoned, make_aligned, tiny_overrides
from PIL import Image

from ganrepro.cli import main
from ganrepro.config import load_config
from ganrepro.errors import DataError, TrainingDiverged, UserError
from ganrepro.training import checkpoint
from ganrepro.training.trainer import state_bytes, train

ROOT = Path(__file__).resolve().parents[1]


def config_for(root: Path, model: str, *extra: str):
    return load_config(ROOT / "params" / f"{model}.yaml", [*tiny_overrides(root, model), *extra])


def final_weights(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    return checkpoint.load(run_dir / "checkpoints" / "latest.pt")["model"]


def assert_identical(a: dict, b: dict) -> None:
    """Bit-identical networks, optimiser moments and pools."""
    for name in a["nets"]:
        for key, tensor in a["nets"][name].items():
            assert torch.equal(tensor, b["nets"][name][key]), f"{name}.{key} differs"
    for name in a["optimizers"]:
        for pid, state in a["optimizers"][name]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b["optimizers"][name]["state"][pid][key]), f"{name} opt {key} differs"
    for name in a["pools"]:
        assert all(torch.equal(x, y) for x, y in zip(a["pools"][name]["images"], b["pools"][name]["images"]))


def loss_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "losses.csv", newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_same_seed_same_weights_and_declared_outputs(aligned_root: Path, tmp_path: Path, model: str) -> None:
    (aligned_root / "manifest.json").write_text('{"data_hash": "feedbeef"}')
    cfg = config_for(aligned_root, model)
    first = train(cfg, tmp_path / "a", "cpu", progress_bar=False)
    train(cfg, tmp_path / "b", "cpu", progress_bar=False)
    assert first.completed and first.progress.step == 8 and first.progress.epoch == 2
    assert_identical(final_weights(tmp_path / "a"), final_weights(tmp_path / "b"))
    # what a pack's job is sized by, counted without training: the bytes of the checkpoint's nets and moments
    state = final_weights(tmp_path / "a")
    held = [t for net in state["nets"].values() for t in net.values()]
    held += [
        s[k] for opt in state["optimizers"].values() for s in opt["state"].values() for k in ("exp_avg", "exp_avg_sq")
    ]
    assert state_bytes(cfg) == sum(t.numel() * t.element_size() for t in held)
    other = train(config_for(aligned_root, model, "seed=1"), tmp_path / "c", "cpu", progress_bar=False)
    assert other.completed
    g = "G" if model == "pix2pix" else "G_A"
    w_a, w_c = final_weights(tmp_path / "a")["nets"][g], final_weights(tmp_path / "c")["nets"][g]
    assert any(not torch.equal(w_a[k], w_c[k]) for k in w_a if w_a[k].is_floating_point())

    run = tmp_path / "a"
    for name in [
        "config.yaml",
        "provenance.json",
        "losses.csv",
        "loss_curves.png",
        "checkpoints/latest.pt",
        "checkpoints/final.pt",
        "checkpoints/epoch_0001.pt",
        "checkpoints/epoch_0002.pt",
    ]:
        assert (run / name).is_file(), name
    assert loss_steps(run) == list(range(1, 9))
    invocation = json.loads((run / "provenance.json").read_text())["invocations"][0]
    assert invocation["data_hash"] == "feedbeef" and invocation["device"] == "cpu"
    grids = sorted((run / "samples").glob("*.png"))
    assert grids, "no sample grid written"
    columns = 3 if model == "pix2pix" else 6
    assert Image.open(grids[-1]).size == (32 * columns, 32 * 2)  # 2 sample rows of 32 px images


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_stop_after_one_epoch_then_same_command_equals_straight_run(
    aligned_root: Path, tmp_path: Path, model: str
) -> None:
    args = ["train", "--config", str(ROOT / "params" / f"{model}.yaml"), "--device", "cpu", "--no-progress"]
    args += [x for o in tiny_overrides(aligned_root, model) for x in ("--set", o)]
    assert main([*args, "--out", str(tmp_path / "straight")]) == 0
    assert main([*args, "--out", str(tmp_path / "resumed"), "--stop-after-epoch", "1"]) == 0
    assert checkpoint.load(tmp_path / "resumed" / "checkpoints" / "latest.pt")["epoch"] == 1
    assert not (tmp_path / "resumed" / "checkpoints" / "final.pt").exists()
    assert main([*args, "--out", str(tmp_path / "resumed")]) == 0
    assert_identical(final_weights(tmp_path / "straight"), final_weights(tmp_path / "resumed"))
    assert loss_steps(tmp_path / "resumed") == loss_steps(tmp_path / "straight")
    prov = (tmp_path / "resumed" / "provenance.json").read_text()
    assert '"resumed_from_step": 4' in prov


def test_killed_mid_epoch_resumes_without_losing_or_repeating_data(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_aligned(root, "train", 12, seed=3)
    make_aligned(root, "test", 2, seed=4)
    overrides = [*tiny_overrides(root, "pix2pix"), "train.latest_every_steps=2"]
    args = ["train", "--config", str(ROOT / "params" / "pix2pix.yaml"), "--device", "cpu", "--no-progress"]
    args += [x for o in overrides for x in ("--set", o)]

    assert main([*args, "--out", str(tmp_path / "straight")]) == 0

    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganrepro.cli", *args, "--out", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # kill somewhere inside the first epoch, after a mid-epoch checkpoint
        if (killed / "losses.csv").exists() and len(loss_steps(killed)) >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = checkpoint.load(killed / "checkpoints" / "latest.pt")
    assert saved["epoch"] < 2 and saved["step"] < 24

    assert main([*args, "--out", str(killed)]) == 0
    assert_identical(final_weights(tmp_path / "straight"), final_weights(killed))
    assert loss_steps(killed) == list(range(1, 25))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(aligned_root: Path, tmp_path: Path) -> None:
    cfg = config_for(aligned_root, "pix2pix")
    run = tmp_path / "run"
    train(cfg, run, "cpu", stop_after_epoch=1, progress_bar=False)
    latest = run / "checkpoints" / "latest.pt"
    before = hashlib.sha256(latest.read_bytes()).hexdigest()
    from ganrepro.loading import build_dataset

    with pytest.raises(TrainingDiverged, match="nan"):
        train(cfg, run, "cpu", dataset=Poisoned(build_dataset(cfg), float("nan")), progress_bar=False)
    assert hashlib.sha256(latest.read_bytes()).hexdigest() == before


def test_bad_images_are_named(aligned_root: Path, tmp_path: Path) -> None:
    cfg = config_for(aligned_root, "pix2pix")
    bad = aligned_root / "train" / "2.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated PNG
    with pytest.raises(DataError, match="2.png"):
        train(cfg, tmp_path / "r1", "cpu", progress_bar=False)
    Image.new("RGB", (40, 32)).save(bad)  # not 2:1
    with pytest.raises(DataError, match=r"2\.png.*2:1"):
        train(cfg, tmp_path / "r2", "cpu", progress_bar=False)


def test_run_dir_of_another_config_is_refused(aligned_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(config_for(aligned_root, "pix2pix"), run, "cpu", stop_after_epoch=1, progress_bar=False)
    with pytest.raises(UserError, match="pix2pix.lambda_l1"):
        train(config_for(aligned_root, "pix2pix", "pix2pix.lambda_l1=5"), run, "cpu", progress_bar=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        train(config_for(aligned_root, "pix2pix"), other, "cpu", progress_bar=False)
    assert (other / "notes.txt").read_text() == "mine"
    # A folder holding only empty folders (a workflow manager's pre-made checkpoints/) is a fresh run dir.
    premade = tmp_path / "premade"
    (premade / "checkpoints").mkdir(parents=True)
    train(config_for(aligned_root, "pix2pix"), premade, "cpu", stop_after_epoch=1, progress_bar=False)
    assert (premade / "config.yaml").is_file()


def test_sigterm_saves_at_the_next_step_and_exits(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_aligned(root, "train", 200, seed=5)  # an epoch long enough that the signal lands inside it
    run = tmp_path / "run"
    args = [
        "train",
        "--config",
        str(ROOT / "params" / "pix2pix.yaml"),
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(run),
    ] + [x for o in tiny_overrides(root, "pix2pix") for x in ("--set", o)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganrepro.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not ((run / "losses.csv").exists() and len(loss_steps(run)) >= 3):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "run the same command to continue" in out
    saved = checkpoint.load(run / "checkpoints" / "latest.pt")
    assert saved["step"] == loss_steps(run)[-1] and saved["epoch"] == 0  # saved mid-epoch, nothing lost


def test_cyclegan_reads_unaligned_folders(tmp_path: Path) -> None:
    root = tmp_path / "unaligned"
    for split, count in (("train", 3), ("test", 2)):
        for domain, seed in (("A", 1), ("B", 2)):
            folder = root / f"{split}{domain}"
            folder.mkdir(parents=True)
            for i in range(count + (domain == "B")):  # |B| != |A| on purpose
                Image.new("RGB", (40, 40), (seed * 60, i * 40, 0)).save(folder / f"{domain}{i}.png")
    cfg = config_for(root, "cyclegan", "data.direction=AtoB")
    from ganrepro.loading import build_dataset

    ds = build_dataset(cfg)
    assert len(ds) == 4 and not ds.paired
    item = ds[0]
    assert item["A"].shape == (3, 32, 32) and "trainA" in item["A_path"] and "trainB" in item["B_path"]
    assert train(cfg, tmp_path / "run", "cpu", progress_bar=False).completed
