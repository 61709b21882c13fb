"""Bad command-line input ends in one line naming the file or option, exit code 2, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_overrides
from PIL import Image
from test_reliability_data import bomb_png

from ganrepro.cli import main

ROOT = Path(__file__).resolve().parents[1]


def one_line_error(capsys: pytest.CaptureFixture, *needles: str) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_log_whose_folder_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "afile").write_text("x")
    assert main(["--log", str(tmp_path / "afile" / "x.log"), "datasets", "--data-dir", str(tmp_path)]) == 2
    one_line_error(capsys, "--log")


def test_log_in_a_missing_folder_is_created(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "deeper" / "x.log"
    assert main(["--log", str(log), "datasets", "--json", "--data-dir", str(tmp_path)]) == 0
    assert log.is_file()


@pytest.mark.parametrize("command", [["datasets"], ["download", "facades"], ["prepare", "synthetic"]])
def test_data_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture, command: list[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main([*command, "--data-dir", str(afile)]) == 2
    one_line_error(capsys, "--data-dir", "is a file")
    assert afile.read_text() == "x"


@pytest.mark.parametrize(
    "option, value", [("--size", "1000000"), ("--seed", "-5"), ("--train", "0"), ("--seed", str(2**40))]
)
def test_prepare_synthetic_bounds(tmp_path: Path, capsys: pytest.CaptureFixture, option: str, value: str) -> None:
    assert main(["prepare", "synthetic", "--data-dir", str(tmp_path / "data"), option, value]) == 2
    one_line_error(capsys, option)
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


def image_folders(tmp_path: Path) -> tuple[Path, Path]:
    real, fake = tmp_path / "real", tmp_path / "fake"
    real.mkdir()
    fake.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    for name in ("1", "2"):
        Image.fromarray(pixels).save(real / f"{name}.png")
        Image.fromarray(pixels).save(fake / f"{name}.png")
    return real, fake


def test_score_with_a_decompression_bomb(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    real, fake = image_folders(tmp_path)
    (fake / "2.png").write_bytes(bomb_png())
    assert main(["score", "--real", str(real), "--fake", str(fake), "--metrics", "ssim", "--device", "cpu"]) == 2
    one_line_error(capsys, "2.png")


def test_score_json_that_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    real, fake = image_folders(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert (
        main(
            [
                "score",
                "--real",
                str(real),
                "--fake",
                str(fake),
                "--metrics",
                "ssim",
                "--device",
                "cpu",
                "--json",
                str(out),
            ]
        )
        == 2
    )
    one_line_error(capsys, "--json", "is a folder")
    assert list(out.iterdir()) == []


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from conftest import make_aligned

    root = tmp_path_factory.mktemp("runs")
    make_aligned(root / "data", "train", 2, seed=1)
    make_aligned(root / "data", "test", 2, seed=2)
    runs = []
    for name, seed in (("mine", 0), ("other", 1)):
        args = [
            "train",
            "--config",
            str(ROOT / "params" / "pix2pix.yaml"),
            "--out",
            str(root / name),
            "--device",
            "cpu",
            "--no-progress",
        ]
        for override in [*tiny_overrides(root / "data"), "train.n_epochs_decay=0", f"seed={seed}"]:
            args += ["--set", override]
        assert main(args) == 0
        runs.append(root / name)
    return runs[0], runs[1]


def test_evaluate_refuses_a_checkpoint_from_another_run(
    two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    mine, other = two_runs
    foreign = f"../../{other.name}/checkpoints/final.pt"
    assert main(["evaluate", str(mine), "--checkpoint", foreign, "--metrics", "ssim", "--device", "cpu"]) == 2
    one_line_error(capsys, "--checkpoint", "outside", "--allow-outside-checkpoint")
    assert not (mine / "eval").exists()

    out = mine.parent / "forced"
    assert (
        main(
            [
                "evaluate",
                str(mine),
                "--checkpoint",
                foreign,
                "--metrics",
                "ssim",
                "--device",
                "cpu",
                "--allow-outside-checkpoint",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    record = json.loads((out / "metrics.json").read_text())["run"]
    assert record["checkpoint_outside_run_dir"] is True
    assert Path(record["checkpoint"]).resolve() == (other / "checkpoints" / "final.pt").resolve()


def test_evaluate_own_checkpoint_is_recorded_as_inside(two_runs: tuple[Path, Path]) -> None:
    mine, _ = two_runs
    out = mine.parent / "own"
    assert (
        main(
            [
                "evaluate",
                str(mine),
                "--checkpoint",
                "final.pt",
                "--metrics",
                "ssim",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "metrics.json").read_text())["run"]["checkpoint_outside_run_dir"] is False


def test_evaluate_with_a_malformed_run_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("model: pix2pix\nmodel: cyclegan\n")
    assert main(["evaluate", str(run), "--metrics", "ssim", "--device", "cpu"]) == 2
    one_line_error(capsys, "config.yaml", "duplicate key 'model'")
