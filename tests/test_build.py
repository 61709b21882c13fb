"""``ganrepro build``: a table build without Snakemake (one small build on CPU), and the gpu-short profile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganrepro.errors import UserError
from ganrepro.preparation.registry import get_spec
from ganrepro.workflow.dvc import dvc_stages
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.profile import PackPolicy
from ganrepro.workflow.runner import Stage, argv_of, execute, plan_stages, without_option

ROOT = Path(__file__).resolve().parents[1]

#: Two rows of the pix2pix loss table: the smallest table whose report has a claim to assess.
TINY_TABLE = """\
table: tiny_ablation
title: two pix2pix rows
model: pix2pix
base_config: params/pix2pix.yaml
citation: "Isola, Zhu, Zhou, Efros. CVPR 2017"
paper_columns: [pixel_acc, class_acc, class_iou]
rows:
  l1:      {label: "L1",      set: {pix2pix.gan: none}}
  l1_cgan: {label: "L1+cGAN", set: {}}
sections:
  - id: losses
    title: "Loss ablation"
    source: "pix2pix Table 1"
    rows:
      - {row: l1,      paper: [0.42, 0.15, 0.11]}
      - {row: l1_cgan, paper: [0.66, 0.23, 0.17]}
    claims:
      - {better: l1_cgan, worse: l1, metric: pixel_acc, source: "pix2pix Table 1"}
"""


# ------------------------------------------------------------------------------------------ gpu-short


def test_gpu_short_profile_has_the_papers_networks_and_fits_its_time_budget() -> None:
    """The arithmetic of params/profiles/gpu-short.yaml's header: packs of 13 at the 600 samples/s packing
    target, smaller packs at 350 samples/s, training within the 215 s it budgets, the whole build in 480 s."""
    plan = Plan("facades", "gpu-short")
    plan.validate()
    profile = plan.profile
    assert (profile.device, profile.seeds, profile.replication) == ("cuda", (0, 1, 2), False)
    assert profile.pack == PackPolicy("compatible", 13)
    config = plan.config("pix2pix_ablation", "l1_cgan", 0)
    assert (config.reference, config.network.generator, config.network.discriminator) == ("lua", "unet_256", "patch70")
    assert (config.network.ngf, config.network.ndf, config.train.batch_size) == (64, 64, 1)
    assert (config.data.load_size, config.data.crop_size, config.data.max_items) == (286, 256, None)
    assert plan.config("cyclegan_ablation", "cyclegan", 0).network.generator == "resnet_9blocks"

    steps = (config.train.n_epochs + config.train.n_epochs_decay) * get_spec("facades").splits["train"]
    packs = plan.packs("pix2pix_ablation")
    assert sum(len(p.members) for p in packs) == len(list(plan.runs("pix2pix_ablation"))) == 42
    train_s = sum(len(p.members) * steps / (600 if len(p.members) >= 13 else 350) for p in packs)
    assert steps == 2000 and train_s <= 215
    start_up_s, prepare_s, segmenter_s, evaluate_s, report_s = 35, 20, 40, 70, 40
    assert train_s + start_up_s + prepare_s + segmenter_s + evaluate_s + report_s <= 480 - 60


# ------------------------------------------------------------------------------------------ the stages


def test_without_mlflow_the_track_stages_go_and_the_report_needs_no_parent() -> None:
    plan = Plan("synthetic", "smoke")
    tracked = plan_stages(plan, "pix2pix_ablation", tracking=True)
    untracked = plan_stages(plan, "pix2pix_ablation", tracking=False)
    assert any(s.kind == "track" for s in tracked) and not any(s.kind == "track" for s in untracked)
    report = next(s for s in untracked if s.name == "report-pix2pix_ablation")
    assert "--mlflow-parent" not in report.command and not any("mlflow" in d for d in report.deps)
    assert report.command == without_option(dvc_stages(plan)["report-pix2pix_ablation"]["cmd"], "--mlflow-parent")
    # the CycleGAN table's stages are not needed by the pix2pix report
    assert not any("cyclegan" in s.name for s in tracked)


def test_a_leading_ganrepro_runs_as_this_python() -> None:
    assert argv_of("ganrepro --log a.log report t") == [
        sys.executable,
        "-m",
        "ganrepro",
        "--log",
        "a.log",
        "report",
        "t",
    ]


def test_a_failing_stage_stops_the_build_naming_it_and_its_log(tmp_path: Path) -> None:
    stage = Stage("prepare-nothing", "prepare", "ganrepro --log logs/p.log prepare no_such_dataset", (), ("out",))
    after = Stage("report-x", "report", "ganrepro --log logs/r.log report x", ("out",), ("r",))
    with pytest.raises(UserError, match=r"stage prepare-nothing failed with exit code 2; its log: logs/p.log"):
        execute([stage, after], tmp_path, echo=lambda line: None)
    assert not (tmp_path / "logs/r.log").exists()  # the stage after it never started


# ------------------------------------------------------------------------------------------ one build


def build(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "GANREPRO_PARAMS": str(cwd / "params")}
    env.pop("GANREPRO_DATA_DIR", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ganrepro",
            "build",
            "tiny_ablation",
            "--dataset",
            "synthetic",
            "--profile",
            "smoke",
            "--no-track",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_build_runs_the_plans_commands_once_then_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / "params/tables/tiny_ablation.yaml").write_text(TINY_TABLE)
    monkeypatch.setenv("GANREPRO_PARAMS", str(tmp_path / "params"))
    plan = Plan("synthetic", "smoke")
    dvc = dvc_stages(plan)
    expected = [s.command for s in plan_stages(plan, "tiny_ablation", tracking=False)]
    for stage in plan_stages(plan, "tiny_ablation", tracking=False):  # the dvc.yaml command (its guard dropped)
        cmd = dvc[stage.name]["cmd"]
        assert stage.command == without_option(cmd[-1] if isinstance(cmd, list) else cmd, "--mlflow-parent")

    dry = build("--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[2:] == expected  # after the tracking line and the count line
    assert [c.split()[3] for c in expected] == [
        "prepare",
        "segmenter",
        "train",
        "evaluate",
        "train",
        "evaluate",
        "report",
    ]

    first = build("--jobs", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "7 of 7 stage(s) to run" in first.stdout
    assert any(line.startswith("train ") and line.split()[1] == "2" for line in first.stdout.splitlines())
    assert "NOT A REPLICATION" in (tmp_path / "reports/synthetic/smoke/tiny_ablation.md").read_text()
    assert not (tmp_path / "reports/tiny_ablation.md").exists()  # Snakemake's copy, left to Snakemake
    for row, seed in plan.runs("tiny_ablation"):
        assert (tmp_path / plan.metrics_json("tiny_ablation", row, seed)).is_file()

    second = build(cwd=tmp_path)
    assert second.returncode == 0 and "0 of 7 stage(s) to run, 7 up to date" in second.stdout
    assert "[train]" not in second.stdout and "[report]" not in second.stdout

    # Its two rows resolve to pix2pix_ablation's L1 and L1+cGAN runs, so those are the runs it trains: an edit of
    # the table they are trained for re-runs them and this report; an edit of this table only its report.
    assert [plan.trained_as("tiny_ablation", row, seed) for row, seed in plan.runs("tiny_ablation")] == [
        ("pix2pix_ablation", "l1", 0),
        ("pix2pix_ablation", "l1_cgan", 0),
    ]
    os.utime(tmp_path / "params/tables/pix2pix_ablation.yaml")
    stale = build("--dry-run", cwd=tmp_path)
    assert stale.stdout.splitlines()[2:] == expected[2:]
    build(cwd=tmp_path)
    os.utime(tmp_path / "params/tables/tiny_ablation.yaml")
    assert build("--dry-run", cwd=tmp_path).stdout.splitlines()[2:] == expected[-1:]
