"""Run directories: one training process at a time (real processes), kill -9 then resume, a damaged
losses.csv, final.pt as an independent read-only file, a damaged config.yaml, corrupt checkpoints."""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_aligned, tiny_overrides

from ganrepro.cli import main
from ganrepro.training import checkpoint

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def train_args(root: Path, out: Path, *overrides: str) -> list[str]:
    args = [
        "train",
        "--config",
        str(ROOT / "params" / "pix2pix.yaml"),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--no-progress",
    ]
    for override in [*tiny_overrides(root), *overrides]:
        args += ["--set", override]
    return args


def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ganrepro.cli", *args],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def steps(run_dir: Path) -> list[int]:
    with open(run_dir / "losses.csv", newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def test_second_process_is_refused_at_once_and_kill_9_then_resumes(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_aligned(root, "train", 8, seed=3)
    make_aligned(root, "test", 2, seed=4)
    run = tmp_path / "run"
    args = train_args(root, run, "train.n_epochs=500", "train.latest_every_steps=2")
    first = spawn(args)
    try:
        wait_for(lambda: (run / "checkpoints" / "latest.pt").exists())
        started = time.time()
        second = subprocess.run(
            [sys.executable, "-m", "ganrepro.cli", *args], env=ENV, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 2
        assert f"pid {first.pid}" in second.stderr and len(second.stderr.strip().splitlines()) == 1
        assert time.time() - started < 60
        assert first.poll() is None, "the first run must be unaffected"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The kernel released the dead holder's lock: the same command resumes from its checkpoint.
    saved = checkpoint.load(run / "checkpoints" / "latest.pt")["step"]
    assert (
        main(
            [
                *train_args(root, run, "train.n_epochs=500", "train.latest_every_steps=2"),
                "--stop-after-epoch",
                str(saved // 8 + 1),
            ]
        )
        == 0
    )
    invocations = json.loads((run / "provenance.json").read_text())["invocations"]
    assert invocations[-1]["resumed_from_step"] == saved
    assert steps(run) == list(range(1, len(steps(run)) + 1))


def test_damaged_losses_csv_is_rebuilt_and_never_blocks_a_resume(
    aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    assert main([*train_args(aligned_root, run), "--stop-after-epoch", "1"]) == 0
    log = run / "losses.csv"
    lines = log.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    assert len(rows) == 4
    # What two writers and a kill leave behind: a half line, an interleaved duplicate, binary junk.
    damaged = [
        header,
        rows[0],
        rows[1][: len(rows[1]) // 2],
        rows[1],
        rows[0],
        "\x00\x00garbage,,",
        rows[2],
        rows[3],
        "5,2,1,0.0002",
    ]
    log.write_text("\n".join(damaged) + "\n")
    capsys.readouterr()
    assert main(train_args(aligned_root, run)) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "losses.csv was damaged" in err and "rebuilt" in err
    assert steps(run) == list(range(1, 9))
    import pandas

    assert len(pandas.read_csv(log)) == 8  # what the report and the loss plot read


def test_final_pt_is_an_independent_read_only_copy_and_a_rerun_leaves_no_temporary(
    aligned_root: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    assert main(train_args(aligned_root, run)) == 0
    final, latest = run / "checkpoints" / "final.pt", run / "checkpoints" / "latest.pt"
    assert not os.path.samefile(final, latest)
    assert stat.S_IMODE(final.stat().st_mode) & 0o222 == 0, "final.pt must be read-only"
    assert final.read_bytes() == latest.read_bytes()
    assert main(train_args(aligned_root, run)) == 0  # a finished run, run again
    leftovers = [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    latest.write_bytes(b"damaged")
    assert checkpoint.load(final)["step"] == 8  # damaging latest.pt does not touch final.pt


def test_damaged_run_config_is_a_one_line_error(
    aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("model: pix2pix\nseed: [0\n")
    assert main(train_args(aligned_root, run)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "config.yaml" in err and "damaged" in err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def test_out_that_is_a_file_is_refused(aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    out.write_text("not a folder")
    assert main(train_args(aligned_root, out)) == 2
    assert "is a file" in capsys.readouterr().err
    assert out.read_text() == "not a folder"


def test_corrupt_checkpoint_is_refused_without_a_silent_restart(
    aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    assert main([*train_args(aligned_root, run), "--stop-after-epoch", "1"]) == 0
    latest = run / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    before = (run / "losses.csv").read_bytes()
    assert main(train_args(aligned_root, run)) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    assert (run / "losses.csv").read_bytes() == before  # nothing restarted from scratch


def test_damaged_provenance_never_blocks_a_resume(
    aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    assert main([*train_args(aligned_root, run), "--stop-after-epoch", "1"]) == 0
    (run / "provenance.json").write_text('{"invocations": [')
    assert main(train_args(aligned_root, run)) == 0
    assert "provenance.json was damaged" in capsys.readouterr().err
    assert (run / "provenance.json.damaged").read_text() == '{"invocations": ['
    assert json.loads((run / "provenance.json").read_text())["invocations"][0]["resumed_from_step"] == 4
