"""The Snakefile and dvc.yaml: lint, identical commands, the SLURM profile, and a whole smoke build end to end."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def workflow_copy(dest: Path) -> Path:
    """The workflow's own files (Snakefile, pipeline/, params/, the profiles link) in a fresh folder."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Snakefile", dest)
    shutil.copytree(ROOT / "pipeline", dest / "pipeline")
    shutil.copytree(ROOT / "params", dest / "params")
    os.symlink("pipeline/profiles", dest / "profiles")
    return dest


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("GANREPRO_PARAMS", None)
    env.pop("GANREPRO_DATA_DIR", None)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args[:4])} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def snakemake(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "snakemake"), *args], cwd, check)


def snakemake_commands(cwd: Path, config: list[str]) -> list[str]:
    out = snakemake("-n", "-p", "--cores", "1", "--config", *config, cwd=cwd).stdout
    return sorted(" ".join(line.split()[2:]) for line in out.splitlines()
                  if line.startswith("Shell command:") and line.split()[2:] != ["None"])


def dvc_commands(cwd: Path, build: list[str]) -> list[str]:
    run([str(BIN / "ganrepro"), "dvc-yaml", *build], cwd)
    if not (cwd / ".dvc").is_dir():
        run([str(BIN / "dvc"), "init", "--no-scm", "-q"], cwd)
    out = run([str(BIN / "dvc"), "repro", "--dry", "--force"], cwd).stdout
    return sorted(" ".join(line.split()[1:]) for line in out.splitlines() if line.startswith("> "))


def test_snakemake_lint_is_clean(tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    for config in (["dataset=synthetic", "profile=quick"], ["dataset=facades", "profile=paper", "mirror=file:///m"]):
        result = snakemake("--lint", "--config", *config, cwd=work)
        assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


@pytest.mark.parametrize("config, build", [
    (["dataset=synthetic", "profile=smoke"], ["--dataset", "synthetic", "--profile", "smoke"]),
    (["dataset=facades", "profile=paper", "mirror=file:///srv/mirror"],
     ["--dataset", "facades", "--profile", "paper", "--mirror", "file:///srv/mirror"]),
])
def test_dvc_and_snakemake_run_the_same_commands(tmp_path: Path, config: list[str], build: list[str]) -> None:
    work = workflow_copy(tmp_path / "w")
    smk = snakemake_commands(work, config)
    dvc = dvc_commands(work, build)
    assert smk == dvc
    kinds = {c.split()[3] for c in smk}  # ganrepro --log FILE <command>
    assert {"prepare", "segmenter", "train", "evaluate", "track", "report"} <= kinds
    assert ("download" in kinds) == (build[1] == "facades")


def test_default_profile_caps_gpu_jobs_and_slurm_profile_dry_runs(tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    local = snakemake("-n", "--config", "dataset=facades", "profile=paper", cwd=work)
    assert "Using workflow specific profile profiles/default" in local.stdout + local.stderr
    slurm = snakemake("--workflow-profile", "pipeline/profiles/slurm", "-n", "--config", "dataset=facades",
                      "profile=paper", cwd=work)
    text = slurm.stdout + slurm.stderr
    assert "train" in text and "This was a dry-run" in text
    assert "gpu=1" in text and "runtime=1440" in text  # the paper profile's per-job GPU and time reach the executor


def test_bad_snakemake_config_is_rejected_by_the_schema(tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    result = snakemake("-n", "--config", "dataset=synthetic", "profle=quick", cwd=work, check=False)
    assert result.returncode != 0 and "profle" in result.stdout + result.stderr


def test_smoke_build_end_to_end(tmp_path: Path) -> None:
    """The whole DAG on the smoke profile: data, scorer, 24 runs, evaluation, MLflow, both reports."""
    work = workflow_copy(tmp_path / "w")
    snakemake("--cores", "2", "--config", "dataset=synthetic", "profile=smoke", cwd=work)

    for table, rows in (("pix2pix_ablation", 14), ("cyclegan_ablation", 10)):
        report = (work / "reports" / f"{table}.md").read_text()
        per_build = (work / "reports" / "synthetic" / "smoke" / f"{table}.md").read_text()
        for text in (report, per_build):
            assert "not a replication" in text.lower() and "smoke" in text and "synthetic" in text
        figures = sorted(p.name for p in (work / "reports" / "synthetic" / "smoke" / table).glob("*.png"))
        assert figures and all(f.endswith(("_samples.png", "_losses.png")) for f in figures)
        metrics = sorted((work / "results" / "synthetic" / "smoke" / table).glob("*/seed0/eval/test-trainmode/metrics.json"))
        assert len(metrics) == rows
        assert all(json.loads(m.read_text())["metrics"]["fcn"]["pixel_acc"] >= 0 for m in metrics)
        assert all((m.parent / json.loads(m.read_text())["per_image"]["file"]).is_file() for m in metrics)
        assert "paper orderings reproduced" in report and "[no interval]" not in report

    db = work / "mlflow.db"
    assert db.is_file()
    with sqlite3.connect(db) as con:
        children = con.execute("SELECT COUNT(*) FROM runs JOIN tags ON runs.run_uuid = tags.run_uuid "
                               "WHERE tags.key = 'mlflow.parentRunId' AND runs.lifecycle_stage = 'active'").fetchone()[0]
    assert children == 14 + 10

    again = snakemake("--cores", "2", "--config", "dataset=synthetic", "profile=smoke", cwd=work)
    assert "Nothing to be done" in again.stdout + again.stderr
