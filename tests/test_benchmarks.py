"""benchmarks/: the throughput benchmark's engine mode, CycleGAN profile and pack mode on the CPU (tiny networks,
2 steps), and gpu_check.sh's summary lines read from the files its steps write, so that none first fails on a GPU."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from ganrepro.cli import main
from ganrepro.config import load_config
from ganrepro.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "network.ngf=8",
    "network.ndf=8",
    "network.discriminator=patch16",
    "pix2pix:network.generator=unet_32",
    "cyclegan:network.generator=resnet_2blocks",
    "cyclegan:cyclegan.pool_size=3",
]


def summary(kind: str, path: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check_summary.py"), kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_engine_mode_and_profile_run_on_cpu_and_summarise(
    aligned_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train_throughput.py", "--data", str(aligned_root), "--steps", "2", "--size", "32", "--device", "cpu"]
    argv += ["--profile", str(tmp_path / "profile"), "--profile-steps", "1", *[f"--set={o}" for o in TINY]]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(ROOT / "benchmarks" / "train_throughput.py"), run_name="__main__")
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    engines = [(r["model"], r["engine"]) for r in records if "engine" in r]
    assert engines == [
        (m, e) for m in ("pix2pix", "cyclegan") for e in ("dataloader+sync", "resident+eager", "resident+graphed")
    ]
    variants = [r["variant"] for r in records if "variant" in r]
    assert variants == ["project settings", "nondeterministic+cudnn.benchmark", "native reflection pad"]
    assert all(r["ms"] > 0 for r in records if "variant" in r)
    assert (tmp_path / "profile" / "cyclegan_step_trace.json").stat().st_size > 0

    log = tmp_path / "benchmark.log"
    log.write_text(out)
    lines = summary("engines", log)
    assert "throughput pix2pix resident+graphed: n/a on CPU" in lines
    measured = [line for line in lines if "it/s end to end" in line]
    assert len(measured) == 4 and all("peak GPU memory n/a" in line for line in measured)
    assert lines[-1].startswith("CycleGAN eager step (median ms): project settings ")


def test_benchmark_pack_mode_runs_on_cpu_and_its_lines_parse(
    aligned_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``train_throughput.py --pack``: packs of 1 and 2, both models, 2 steps each, tiny networks."""
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "train_throughput.py",
            "--data",
            str(aligned_root),
            "--pack",
            "1,2",
            "--steps",
            "2",
            "--size",
            "32",
            "--device",
            "cpu",
            *[f"--set={o}" for o in TINY],
        ],
    )
    runpy.run_path(str(ROOT / "benchmarks" / "train_throughput.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    assert [(r["model"], r["pack"]) for r in rows] == [(m, n) for n in (1, 2) for m in ("pix2pix", "cyclegan")]
    for row in rows:
        assert "note" not in row and row["steps"] == 2 and row["engine"] == "resident+eager"
        assert row["end_to_end_samples_s"] > 0 and row["in_loop_samples_s"] > 0 and row["peak_gpu_memory_gib"] is None
    tables = [line for line in lines if line.startswith(("pix2pix ", "cyclegan "))]
    assert len(tables) == 2 and all(line.count("samples/s") == 2 for line in tables)
    # gpu_check.sh's summary of the same output: one line per pack
    log = aligned_root / "pack.log"
    log.write_text("\n".join(lines))
    lines = summary("packs", log)
    assert [line.split(" (")[0] for line in lines] == [
        f"pack {m} x{n}" for n in (1, 2) for m in ("pix2pix", "cyclegan")
    ]
    assert all("samples/s end to end" in line and "peak GPU memory n/a" in line for line in lines)


def test_training_and_evaluation_summaries_read_a_real_run(aligned_root: Path, tmp_path: Path) -> None:
    overrides = [*tiny_overrides(aligned_root), "train.n_epochs=2", "train.n_epochs_decay=0"]
    run = train(load_config(ROOT / "params" / "pix2pix.yaml", overrides), tmp_path / "run", "cpu", progress_bar=False)
    assert main(["evaluate", str(run.run_dir), "--metrics", "ssim,psnr", "--device", "cpu"]) == 0
    (line,) = summary("train", run.run_dir / "losses.csv")
    assert line.startswith("2-epoch facades pix2pix: 8 steps in ") and "the step across the epoch boundary" in line
    (line,) = summary("evaluate", run.run_dir / "eval" / "test-trainmode" / "metrics.json")
    assert line.startswith("evaluate after 2 epochs: ssim ") and "psnr " in line and "images)" in line


def test_a_missing_or_broken_file_is_one_summary_line(tmp_path: Path) -> None:
    (tmp_path / "pack.log").write_text('{"model": "pix2pix", "pack": 3}\n')
    assert summary("packs", tmp_path / "pack.log") == ["packs: no figure (KeyError: 'note'; see the step's log)"]
    (line,) = summary("train", tmp_path / "absent.csv")
    assert line.startswith("train: no figure (FileNotFoundError")


REAL_ARCHIVES = Path(os.environ.get("GANREPRO_REAL_ARCHIVES", "/nonexistent"))


def gpu_check(archives: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path / "out"), **env}
    environ["GPU_CHECK_WORK"] = str(tmp_path / "work")
    script = ROOT / "benchmarks" / "gpu_check.sh"
    return subprocess.run(
        ["bash", str(script), str(archives)], env=environ, capture_output=True, text=True, timeout=900
    )


@pytest.mark.skipif(
    not (REAL_ARCHIVES / "facades.tar.gz").is_file(), reason="needs $GANREPRO_REAL_ARCHIVES/facades.tar.gz"
)
def test_the_gpu_check_script_runs_its_steps_on_the_cpu_and_prints_every_summary_line(tmp_path: Path) -> None:
    """``GPU_CHECK_SMOKE=1``: the script's own steps (prepare the real facades, the gpu tests, the benchmark with
    its profile, pack mode, a 2-epoch run and its evaluation) on the CPU with tiny networks."""
    result = gpu_check(REAL_ARCHIVES, tmp_path, GPU_CHECK_SMOKE="1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.split("=== summary")[1].splitlines()[1:]
    assert lines[0].startswith("gpu tests: ") and "skipped" in lines[0] and "failed" not in lines[0]
    assert "throughput pix2pix resident+graphed: n/a on CPU" in lines
    assert sum("it/s end to end" in line for line in lines) == 4
    assert any(line.startswith("CycleGAN eager step (median ms): project settings") for line in lines)
    assert [line.split(" (")[0] for line in lines if line.startswith("pack ")] == [
        f"pack {m} x{n}" for n in (1, 2) for m in ("pix2pix", "cyclegan")
    ]
    assert any(line.startswith("2-epoch facades pix2pix: 8 steps in ") for line in lines)
    assert lines[-1].startswith("evaluate after 2 epochs: ssim ") and "psnr" in lines[-1]
    assert not any("no figure" in line or "FAILED" in line for line in lines)
    assert (tmp_path / "out" / "cyclegan_step_trace.json").is_file()


def test_the_gpu_check_script_refuses_a_machine_without_cuda(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / "facades.tar.gz").write_bytes(b"")
    result = gpu_check(tmp_path / "archives", tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("no CUDA device: this script measures a GPU")
    assert not (tmp_path / "work" / "data").exists()  # refused before preparing anything
