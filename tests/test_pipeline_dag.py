"""The Snakefile and dvc.yaml: lint, identical commands (packs included), per-row DVC params, the SLURM
profile, and a whole smoke build from a fresh checkout of HEAD, publishing it, and the same build packed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import smoke_report
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def workflow_copy(dest: Path) -> Path:
    """The workflow's own files (Snakefile, pipeline/, params/, the profiles link) in a fresh folder."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Snakefile", dest)
    shutil.copytree(ROOT / "pipeline", dest / "pipeline")
    shutil.copytree(ROOT / "params", dest / "params")
    os.symlink("pipeline/executors", dest / "profiles")
    return dest


def run(args: list[str], cwd: Path, check: bool = True, src: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool in ``cwd``; ``src`` puts that checkout's package first on the jobs' import path."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("GANREPRO_PARAMS", None)
    env.pop("GANREPRO_DATA_DIR", None)
    for cached in ("GANREPRO_FID_WEIGHTS", "GANREPRO_BACKBONE_WEIGHTS"):  # the build uses no cached weights
        env.pop(cached, None)
    env["TORCH_HOME"] = smoke_report.ABSENT_TORCH_HOME
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args[:4])} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def snakemake(*args: str, cwd: Path, check: bool = True, src: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "snakemake"), *args], cwd, check, src)


def snakemake_commands(cwd: Path, config: list[str]) -> list[str]:
    out = snakemake("-n", "-p", "--cores", "1", "--config", *config, cwd=cwd).stdout
    return sorted(
        " ".join(line.split()[2:])
        for line in out.splitlines()
        if line.startswith("Shell command:") and line.split()[2:] != ["None"]
    )


def dvc_commands(cwd: Path, build: list[str]) -> list[str]:
    run([str(BIN / "ganrepro"), "dvc-yaml", *build], cwd)
    if not (cwd / ".dvc").is_dir():
        run([str(BIN / "dvc"), "init", "--no-scm", "-q"], cwd)
    out = run([str(BIN / "dvc"), "repro", "--dry", "--force"], cwd).stdout
    # DVC-only: each train stage first checks that dvc.yaml is current (Snakemake reads params/ every run).
    return sorted(
        " ".join(line.split()[1:])
        for line in out.splitlines()
        if line.startswith("> ") and not line.startswith("> ganrepro dvc-yaml --check ")
    )


def test_snakemake_lint_is_clean(tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    for config in (
        ["dataset=synthetic", "profile=quick"],
        ["dataset=facades", "profile=paper", "mirror=file:///m"],
        ["dataset=synthetic", "profile=smoke", "pack=compatible:4"],
    ):
        result = snakemake("--lint", "--config", *config, cwd=work)
        assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "config, build, training",
    [
        (["dataset=synthetic", "profile=smoke"], ["--dataset", "synthetic", "--profile", "smoke"], {"train"}),
        (
            ["dataset=synthetic", "profile=smoke", "pack=compatible:4"],
            ["--dataset", "synthetic", "--profile", "smoke", "--pack", "compatible:4"],
            {"train", "train-pack"},
        ),
        (
            ["dataset=facades", "profile=paper", "mirror=file:///srv/mirror"],
            ["--dataset", "facades", "--profile", "paper", "--mirror", "file:///srv/mirror"],
            {"train-pack"},
        ),
    ],
)
def test_dvc_and_snakemake_run_the_same_commands(
    tmp_path: Path, config: list[str], build: list[str], training: set[str]
) -> None:
    work = workflow_copy(tmp_path / "w")
    smk = snakemake_commands(work, config)
    dvc = dvc_commands(work, build)
    assert smk == dvc
    kinds = {c.split()[3] for c in smk}  # ganrepro --log FILE <command>
    facades = build[1] == "facades"  # the released facades models are imported on facades at 256 px only
    released = {"import-checkpoint"} if facades else set()
    assert {"prepare", "segmenter", "evaluate", "track", "report", "report-copy"} | training | released == kinds - {
        "download"
    }
    assert ("download" in kinds) == facades
    trained = [trained_run_dir for c in smk for trained_run_dir in _trained(c)]
    evaluated = [
        c.split()[4]
        for c in smk
        if c.split()[3] == "evaluate"  # ganrepro --log FILE evaluate RUN_DIR
        and "/released/" not in c.split()[4]
    ]
    assert len(trained) == len(set(trained)) and sorted(trained) == sorted(evaluated)  # each run trained once


def _trained(command: str) -> list[str]:
    """The run directories a train (``--out RUN_DIR``) or train-pack (``--member 'RUN_DIR ...'``) command writes."""
    argv = shlex.split(command)
    if argv[3] == "train":
        return [argv[argv.index("--out") + 1]]
    return (
        [shlex.split(argv[i + 1])[0] for i, arg in enumerate(argv) if arg == "--member"]
        if argv[3] == "train-pack"
        else []
    )


def test_default_profile_caps_gpu_jobs_and_slurm_profile_dry_runs(tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    local = snakemake("-n", "--config", "dataset=facades", "profile=paper", cwd=work)
    assert "Using workflow specific profile profiles/default" in local.stdout + local.stderr
    slurm = snakemake(
        "--workflow-profile", "pipeline/executors/slurm", "-n", "--config", "dataset=facades", "profile=paper", cwd=work
    )
    text = slurm.stdout + slurm.stderr
    assert "train" in text and "This was a dry-run" in text
    assert "gpu=1" in text and "runtime=1440" in text  # the paper profile's per-job GPU and time reach the executor


def test_bad_snakemake_config_is_rejected_by_the_schema(tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    result = snakemake("-n", "--config", "dataset=synthetic", "profle=quick", cwd=work, check=False)
    assert result.returncode != 0 and "profle" in result.stdout + result.stderr


# --------------------------------------------------------------------------- DVC: a row's stages, only its own


def dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "dvc"), *args], cwd)


def dvc_changed(cwd: Path) -> set[str]:
    return set(json.loads(dvc("status", "--json", cwd=cwd).stdout or "{}"))


def fake_outputs(work: Path, stages: dict[str, dict], names: list[str], content: str) -> None:
    """Write every output of ``names`` (as if the stages had run) and record them in dvc.lock."""
    for name in names:
        for out in stages[name].get("outs", []):
            path = work / (out if isinstance(out, str) else next(iter(out)))
            if name.startswith(("report-", "latest-report-")) and not path.suffix:
                path = path / "figure.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{name} {content}\n")
    dvc("commit", "--force", "-q", *names, cwd=work)


def test_editing_one_row_reruns_only_that_rows_dvc_stages(tmp_path: Path) -> None:
    """λ of one row edited, dvc.yaml regenerated: DVC re-runs that row's train stages (every seed) and, as
    their outputs change, its evaluate and track stages and the report; no other row's stage."""
    work = workflow_copy(tmp_path / "w")
    (work / "params" / "tables" / "cyclegan_ablation.yaml").unlink()  # fewer stages to check: one table
    profile = work / "params" / "profiles" / "smoke.yaml"
    profile.write_text(profile.read_text().replace("seeds: [0]", "seeds: [0, 1]"))
    build = ["--dataset", "synthetic", "--profile", "smoke"]
    run([str(BIN / "ganrepro"), "dvc-yaml", *build], work)
    dvc("init", "--no-scm", "-q", cwd=work)
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    fake_outputs(work, stages, list(stages), "v1")
    assert dvc_changed(work) == set()

    table = work / "params" / "tables" / "pix2pix_ablation.yaml"
    table.write_text(table.read_text().replace("set: {pix2pix.lambda_l1: 10}", "set: {pix2pix.lambda_l1: 20}"))
    stale = run([str(BIN / "ganrepro"), "dvc-yaml", "--check", *build], work, check=False)
    assert stale.returncode == 1 and "regenerate with `ganrepro dvc-yaml --dataset synthetic" in stale.stderr
    run([str(BIN / "ganrepro"), "dvc-yaml", *build], work)

    row = [f"pix2pix_ablation-lambda_10-seed{seed}" for seed in (0, 1)]
    assert dvc_changed(work) == {f"train-{r}" for r in row} | {"report-pix2pix_ablation"}
    fake_outputs(work, stages, [f"train-{r}" for r in row], "v2")  # retrained: new checkpoints
    assert dvc_changed(work) == {f"evaluate-{r}" for r in row} | {"report-pix2pix_ablation"}
    fake_outputs(work, stages, [f"evaluate-{r}" for r in row], "v2")  # re-evaluated: new metrics
    assert dvc_changed(work) == {f"track-{r}" for r in row} | {"report-pix2pix_ablation"}


def test_train_stage_params_name_only_the_keys_its_row_reads(tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    run([str(BIN / "ganrepro"), "dvc-yaml", "--dataset", "cityscapes", "--profile", "paper", "--pack", "none"], work)
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    assert stages["train-cyclegan_ablation-cycle_alone-seed0"]["params"] == [
        {"params/tables/cyclegan_ablation.yaml": ["rows.cycle_alone.set", "base_set"]},
        {"params/profiles/paper.yaml": ["config", "datasets.cityscapes.models.cyclegan"]},
    ]
    assert stages["train-pix2pix_ablation-l1-seed0"]["params"] == [
        {"params/tables/pix2pix_ablation.yaml": ["rows.l1.set"]},
        {"params/profiles/paper.yaml": ["config"]},
    ]
    for name, stage in stages.items():
        if name.startswith("train-"):
            assert stage["cmd"][0] == "ganrepro dvc-yaml --check --dataset cityscapes --profile paper --pack none"
            assert not any(
                d.startswith("params/") and d.endswith(("_ablation.yaml", "paper.yaml")) for d in stage["deps"]
            )


# --------------------------------------------------------------------------- a fresh checkout builds everything


def file_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def fresh_checkout(tmp_path: Path):
    """A detached ``git worktree`` of HEAD: exactly the committed files, as a fresh clone has them."""
    git = shutil.which("git")
    inside = (
        git
        and subprocess.run(
            [git, "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        == "true"
    )
    if not inside:
        pytest.skip("not in a git checkout (or git is not installed): no HEAD to check out fresh")
    clone = tmp_path / "clone"
    subprocess.run([git, "worktree", "add", "--detach", str(clone), "HEAD"], cwd=ROOT, check=True, capture_output=True)
    try:
        yield clone
    finally:
        subprocess.run([git, "worktree", "remove", "--force", str(clone)], cwd=ROOT, check=False, capture_output=True)


def test_fresh_checkout_builds_every_row_and_publishes_only_on_request(fresh_checkout: Path) -> None:
    """The README's main job in a fresh checkout of HEAD, on the smoke profile: every row of both tables
    trains and is evaluated, MLflow and the reports are written, the published reports stay untouched and
    git sees no change; `ganrepro publish` then copies the build, and refuses a damaged one. Built again with
    packing on, the pix2pix table's runs have the same files as when trained alone."""
    clone, src = fresh_checkout, fresh_checkout / "src"
    published = clone / "reports" / "published"
    before = file_hashes(published)
    assert before, "HEAD has published reports"
    targets = ["reports/pix2pix_ablation.md", "reports/cyclegan_ablation.md", "reports/pix2pix_photo2labels.md"]
    snakemake("--cores", "2", *targets, "--config", "dataset=synthetic", "profile=smoke", cwd=clone, src=src)

    # The CycleGAN table's two pix2pix rows are the pix2pix tables' L1+cGAN runs (the same config): not trained again.
    for table, rows in (("pix2pix_ablation", 14), ("cyclegan_ablation", 12 - 2), ("pix2pix_photo2labels", 3)):
        report = (clone / "reports" / "synthetic" / "smoke" / f"{table}.md").read_text()
        latest = (clone / "reports" / f"{table}.md").read_text()
        assert latest == report  # rendered once, copied with its figures: the same links resolve beside each
        figures_of = {
            k: v
            for k, v in file_hashes(clone / "reports" / "synthetic" / "smoke" / table).items()
            if k != ".snakemake_timestamp"
        }  # Snakemake's marker of a directory output
        assert {
            k: v for k, v in file_hashes(clone / "reports" / table).items() if k != ".snakemake_timestamp"
        } == figures_of
        assert report.splitlines()[0].endswith(": synthetic, profile smoke")  # the header names this build
        assert "not a replication" in report.lower()
        figures = sorted(p.name for p in (clone / "reports" / "synthetic" / "smoke" / table).glob("*.png"))
        assert figures and all(f.endswith(("_samples.png", "_losses.png")) for f in figures)
        runs = clone / "results" / "synthetic" / "smoke" / table
        assert len(list(runs.glob("*/seed0/checkpoints/final.pt"))) == rows
        metrics = sorted(runs.glob("*/seed0/eval/test-trainmode/metrics.json"))
        assert len(metrics) == rows
        scores = [json.loads(m.read_text())["metrics"] for m in metrics]  # photo→labels runs: labelmap, no FCN
        assert all(s["fcn"].get("pixel_acc", -1) >= 0 or s["labelmap"]["pixel_acc"] >= 0 for s in scores)
        assert all((m.parent / json.loads(m.read_text())["per_image"]["file"]).is_file() for m in metrics)
        assert "paper orderings reproduced" in report and "[no interval]" not in report
        commit = run(["git", "rev-parse", "HEAD"], clone).stdout.strip()
        changed = smoke_report.difference(smoke_report.normalise(report, commit, smoke_report.ABSENT_TORCH_HOME), table)
        assert changed is None, f"{table}'s smoke report differs from tests/data/expected_smoke/{table}.md, {changed}"
    with sqlite3.connect(clone / "mlflow.db") as con:
        children = con.execute(
            "SELECT COUNT(*) FROM runs JOIN tags ON runs.run_uuid = tags.run_uuid "
            "WHERE tags.key = 'mlflow.parentRunId' AND runs.lifecycle_stage = 'active'"
        ).fetchone()[0]
    assert children == 14 + 12 + 3
    photo2labels = (clone / "reports/synthetic/smoke/pix2pix_photo2labels.md").read_text()
    assert "| L1+cGAN | 0." in photo2labels.split("## Loss ablation, photo→labels", 1)[1]  # labelmap scores
    cyclegan = (clone / "reports/synthetic/smoke/cyclegan_ablation.md").read_text()
    reverse = cyclegan.split("## Loss ablation, photo→labels", 1)[1].split("\n## ", 1)[0]
    assert "| CycleGAN | 0." in reverse and "| 0.58 | 0.22 | 0.16 |" in reverse  # G_B scored, beside Table 5
    assert "| CoGAN | not trained here[^" in cyclegan and "| pix2pix (ours, paired) | 0." in cyclegan
    assert "| pix2pix | 0 | `results/synthetic/smoke/pix2pix_ablation/l1_cgan/seed0` |" in cyclegan
    assert "| pix2pix_reversed | 0 | `results/synthetic/smoke/pix2pix_photo2labels/l1_cgan/seed0` |" in cyclegan
    shared = clone / "results/synthetic/smoke/cyclegan_ablation/pix2pix/seed0"
    assert [p.name for p in shared.iterdir()] == ["mlflow.json"]  # its child of this table's MLflow parent
    assert (
        clone / "results/synthetic/smoke/cyclegan_ablation/cyclegan/seed0/eval/test-trainmode/reverse/metrics.json"
    ).is_file()
    assert file_hashes(published) == before
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], clone).stdout
    assert status == "", f"the build changed or added files git sees:\n{status}"

    again = snakemake("--cores", "2", *targets, "--config", "dataset=synthetic", "profile=smoke", cwd=clone, src=src)
    assert "Nothing to be done" in again.stdout + again.stderr
    packed_build_matches_solo_build(clone, src)

    ganrepro = [str(BIN / "ganrepro"), "publish", "pix2pix_ablation", "--dataset", "synthetic", "--profile", "smoke"]
    first = run(ganrepro, clone, src=src)
    assert "published (" in first.stdout
    out = published / "synthetic" / "smoke"
    assert (out / "pix2pix_ablation.md").read_bytes() == (
        clone / "reports/synthetic/smoke/pix2pix_ablation.md"
    ).read_bytes()
    built = file_hashes(clone / "reports/synthetic/smoke/pix2pix_ablation")
    assert file_hashes(out / "pix2pix_ablation") == {k: v for k, v in built.items() if k != ".snakemake_timestamp"}
    assert not list(out.glob(".*")), "no staging folder is left behind"
    assert "already published, unchanged" in run(ganrepro, clone, src=src).stdout
    assert {k: v for k, v in file_hashes(published).items() if not k.startswith("synthetic/smoke/")} == before

    kept = file_hashes(out)
    figure = clone / "reports" / "synthetic" / "smoke" / "pix2pix_ablation" / "losses_losses.png"
    figure.write_bytes(figure.read_bytes()[:100])  # a damaged build figure
    refused = run(ganrepro, clone, check=False, src=src)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].startswith("ganrepro publish: error: not published: ")
    (clone / "results/synthetic/smoke/pix2pix_ablation/lambda_10/seed0/eval/test-trainmode/metrics.json").unlink()
    refused = run(ganrepro, clone, check=False, src=src)
    assert refused.returncode == 2 and "incomplete" in refused.stderr and "lambda_10" in refused.stderr
    assert file_hashes(out) == kept


def run_files(table_dir: Path) -> dict[str, list[str]]:
    """Each run directory's files, by their names relative to it."""
    return {
        str(run.relative_to(table_dir)): sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
        for run in sorted(table_dir.glob("*/seed*"))
    }


def metric_names(table_dir: Path) -> dict[str, list[str]]:
    """Each run's evaluated metrics (the names in its metrics.json)."""
    return {
        str(m.relative_to(table_dir)): sorted(json.loads(m.read_text())["metrics"])
        for m in sorted(table_dir.glob("*/seed*/eval/test-trainmode/metrics.json"))
    }


def packed_build_matches_solo_build(clone: Path, src: Path) -> None:
    """The pix2pix table again with ``pack=compatible:4``, its packed runs deleted first: they train in
    train_pack jobs (the runs alone, whose commands are unchanged, are not trained again), and every run
    directory then holds the same files and metrics as trained alone; the report renders."""
    table_dir = clone / "results" / "synthetic" / "smoke" / "pix2pix_ablation"
    solo, solo_metrics = run_files(table_dir), metric_names(table_dir)
    packed = ["gan", "l1_gan", "cgan", "l1_cgan", "lambda_1", "lambda_10"]  # `ganrepro plan --pack compatible:4`
    for row in packed:
        shutil.rmtree(table_dir / row)
    built = snakemake(
        "--cores",
        "2",
        "reports/pix2pix_ablation.md",
        "--config",
        "dataset=synthetic",
        "profile=smoke",
        "pack=compatible:4",
        cwd=clone,
        src=src,
    )
    log = built.stdout + built.stderr
    jobs = set(re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)", log, flags=re.MULTILINE))
    assert {"train_pack_pix2pix_ablation_cgan_seed0_3", "train_pack_pix2pix_ablation_gan_seed0_1"} <= jobs
    assert "train" not in jobs
    assert (table_dir.parent / "logs" / "pix2pix_ablation" / "packs" / "cgan-seed0+3" / "train.log").is_file()
    assert run_files(table_dir) == solo and metric_names(table_dir) == solo_metrics and len(solo_metrics) == 14
    report = (clone / "reports" / "pix2pix_ablation.md").read_text()
    assert report == (clone / "reports" / "synthetic" / "smoke" / "pix2pix_ablation.md").read_text()
    assert "paper orderings reproduced" in report
    assert run(["git", "status", "--porcelain", "--untracked-files=all"], clone).stdout == ""
