"""The training engine on CPU: resident data equals the DataLoader's, the non-finite guard in blocks,
background checkpoints, and the CUDA-graph switch's resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import Poisoned, make_aligned, tiny_overrides
from PIL import Image

from ganrepro.config import load_config
from ganrepro.errors import ConfigError, TrainingDiverged
from ganrepro.loading import build_dataset
from ganrepro.loading.resident import ResidentSplit
from ganrepro.loading.sampler import EpochSampler
from ganrepro.training import checkpoint, graphs
from ganrepro.training.async_checkpoint import CheckpointWriter
from ganrepro.training.batches import LoaderBatches, ResidentBatches, keeps_resident
from ganrepro.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


def make_unaligned(root: Path, counts: tuple[int, int]) -> Path:
    """Noise images of a size other than load_size, |A| != |B| so that the B index draw matters."""
    generator = torch.Generator().manual_seed(7)
    for domain, count in zip("AB", counts):
        folder = root / f"train{domain}"
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = torch.randint(0, 256, (40, 40, 3), generator=generator, dtype=torch.uint8).numpy()
            Image.fromarray(pixels).save(folder / f"{domain}{i}.png")
    return root


def config(root: Path, model: str, *extra: str):
    return load_config(ROOT / "params" / f"{model}.yaml", [*tiny_overrides(root, model), *extra])


@pytest.mark.parametrize("workers", [0, 2])  # 2: the loader's worker processes draw the same jitter
@pytest.mark.parametrize("reference", ["pytorch", "lua"])
@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_resident_batches_are_bit_identical_to_the_dataloader(
    tmp_path: Path, model: str, reference: str, workers: int
) -> None:
    if model == "pix2pix":
        root = tmp_path / "aligned"
        make_aligned(root, "train", 5, size=40, seed=3)
    else:
        root = make_unaligned(tmp_path / "unaligned", (5, 3))
    cfg = config(
        root,
        model,
        f"reference={reference}",
        "train.batch_size=2",
        "data.direction=AtoB",
        f"data.num_workers={workers}",
    )
    dataset = build_dataset(cfg, "train", augment=True)
    loader, resident = LoaderBatches(cfg, dataset, CPU), ResidentBatches(cfg, ResidentSplit(dataset, CPU))
    compared = 0
    for epoch in range(3):
        for skip in (0, 1):  # 1: resumed after the epoch's first batch
            ours = list(resident.epoch(epoch, skip))
            theirs = list(loader.epoch(epoch, skip))
            assert len(ours) == len(theirs) == resident.batches(skip)
            for mine, reference_batch in zip(ours, theirs):
                for key in ("A", "B"):
                    assert mine[key].dtype == torch.float32
                    assert torch.equal(mine[key], reference_batch[key]), (epoch, skip, key)
                    compared += 1
    assert compared == 2 * 3 * (3 + 2)  # 5 items in batches of 2: 3 batches, 2 after skipping one


def test_training_on_resident_data_equals_training_through_the_dataloader(aligned_root: Path, tmp_path: Path) -> None:
    runs = {}
    for mode in ("on", "off"):
        cfg = config(aligned_root, "pix2pix", f"data.resident={mode}")
        runs[mode] = checkpoint.load(
            train(cfg, tmp_path / mode, "cpu", progress_bar=False).run_dir / "checkpoints" / "latest.pt"
        )["model"]["nets"]["G"]
    assert all(torch.equal(runs["on"][k], runs["off"][k]) for k in runs["on"])
    assert (tmp_path / "on" / "losses.csv").read_text().splitlines()[1].split(",")[5:] == (
        tmp_path / "off" / "losses.csv"
    ).read_text().splitlines()[1].split(",")[5:]


def test_resident_mode_and_budget_choose_the_source(aligned_root: Path) -> None:
    dataset = build_dataset(config(aligned_root, "pix2pix"), "train", augment=True)
    assert keeps_resident(config(aligned_root, "pix2pix"), dataset)  # 4 small pairs fit the default budget
    assert not keeps_resident(config(aligned_root, "pix2pix", "data.resident_budget_mb=0"), dataset)
    assert keeps_resident(config(aligned_root, "pix2pix", "data.resident_budget_mb=0", "data.resident=on"), dataset)
    assert not keeps_resident(config(aligned_root, "pix2pix", "data.resident=off"), dataset)


def test_non_finite_step_stops_at_the_next_write_and_keeps_the_last_finite_checkpoint(
    aligned_root: Path, tmp_path: Path
) -> None:
    cfg = config(aligned_root, "pix2pix", "train.latest_every_steps=1")
    poisoned_item = EpochSampler(4, cfg.seed).order()[2]  # trained at step 3 of epoch 1
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"loss \w+ became (inf|nan) at step 3 \(epoch 1\)"):
        train(cfg, run, "cpu", dataset=Poisoned(build_dataset(cfg), float("inf"), {poisoned_item}), progress_bar=False)
    assert checkpoint.load(run / "checkpoints" / "latest.pt")["step"] == 2
    lines = (run / "losses.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2"]


def test_background_writer_snapshots_at_submit_and_reports_write_errors(tmp_path: Path) -> None:
    weights = torch.zeros(3)
    writer = CheckpointWriter()
    writer.submit(tmp_path / "a.pt", {"w": weights, "nested": [weights]})
    weights.add_(1)  # training goes on while the file is written
    writer.wait()
    saved = torch.load(tmp_path / "a.pt")
    assert torch.equal(saved["w"], torch.zeros(3)) and torch.equal(saved["nested"][0], torch.zeros(3))
    assert not list(tmp_path.glob(".a.pt.*"))  # no temporary file left behind
    (tmp_path / "file").write_text("not a folder")
    writer.submit(tmp_path / "file" / "b.pt", {"w": weights})
    with pytest.raises(OSError):
        writer.wait()
    writer.wait()  # the error was reported once


def test_cuda_graph_switch_resolves_against_the_device(aligned_root: Path) -> None:
    assert not graphs.wanted(config(aligned_root, "pix2pix"), CPU)  # auto on CPU: eager
    assert not graphs.wanted(config(aligned_root, "pix2pix", "train.cuda_graph=off"), torch.device("cuda"))
    assert graphs.wanted(config(aligned_root, "pix2pix"), torch.device("cuda"))
    on = config(aligned_root, "pix2pix", "train.cuda_graph=on")
    assert not graphs.wanted(on, CPU)  # a model built for evaluation on CPU is fine
    with pytest.raises(ConfigError, match="train.cuda_graph = on needs a CUDA device"):
        graphs.step_function(None, on, CPU)  # type: ignore[arg-type]


def test_a_graphed_runs_optimiser_state_resumes_eagerly(aligned_root: Path) -> None:
    """Checkpoints hold plain-float rates and each run sets ``capturable`` itself, so modes can alternate."""
    from ganrepro.training.trainer import build_model

    cfg = config(aligned_root, "pix2pix")
    graphed = build_model(cfg, CPU)
    graphed.graphed = True  # as on CUDA: capturable Adam, rate as a tensor
    for optimizer in graphed.optimizers.values():
        graphed._graph_settings(optimizer)
    state = graphed.state_dict()
    groups = [g for o in state["optimizers"].values() for g in o["param_groups"]]
    assert all(type(g["lr"]) is float and g["capturable"] for g in groups)
    eager = build_model(cfg, CPU)
    eager.load_state_dict(state)
    assert all(
        not g["capturable"] and type(g["lr"]) is float for o in eager.optimizers.values() for g in o.param_groups
    )
    batch = {"A": torch.zeros(1, 3, 32, 32), "B": torch.zeros(1, 3, 32, 32)}
    assert all(torch.isfinite(v) for v in eager.train_step(batch).values())
