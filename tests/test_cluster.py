"""The table build on a real SLURM cluster (the shipped profile, the executor plugin) and through `dvc repro`.

The SLURM test starts a single-node cluster from tests/cluster/ (skipped, with the reason, where SLURM, munge
or MariaDB are not installed), builds the pix2pix table through `--workflow-profile pipeline/executors/slurm`
and makes one training job hit its time limit: the job's process is frozen (SIGSTOP) once it has trained a
step, so that it is still running, whatever the machine's speed, when its limit is lowered to SLURM's
minimum of one minute; SLURM then kills it as it kills any job over its limit (SIGCONT, SIGTERM, SIGKILL
after KillWait). Snakemake submits it again and the second job resumes from the checkpoint saved at SIGTERM.
On the same cluster, the training outputs of that table's packs (`pack=compatible:4`) build as one SLURM job per
pack, asking for the resources the pack's rule declares, with the weights a local build of them gives.

The DVC test needs no cluster: `dvc repro` builds the smoke pix2pix table in a fresh copy, Snakemake builds two
of its rows in another, and both give the same config digests and checkpoint bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from cluster.build import accounting, stop, submit
from cluster.node import Cluster, unusable_reason
from test_pipeline_dag import BIN, run, snakemake, workflow_copy

from ganrepro.training import checkpoint
from ganrepro.training.rundir import read_run_config
from ganrepro.workflow.packs import pack_resources
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.spec import load_table

pytestmark = pytest.mark.cluster

TABLE = "pix2pix_ablation"
ROWS = len(load_table(TABLE).rows)  # trained rows of the table (one seed on smoke)
FROZEN_ROW = "l1_cgan"
# The smoke profile with more epochs for pix2pix: a run long enough to be caught mid-training (the freeze is
# what makes the time limit deterministic; the epochs only make sure there is a step to freeze after).
VARIANT = "smoke_cluster"
VARIANT_EPOCHS = 10
SMOKE_STEPS = 4  # smoke: 4 training images, batch 1, 1 epoch


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory):
    reason = unusable_reason()
    if reason:
        pytest.skip(f"SLURM cannot run here: {reason}")
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def variant_profile(work: Path) -> None:
    profile = yaml.safe_load((work / "params" / "profiles" / "smoke.yaml").read_text())
    profile["description"] = f"smoke with {VARIANT_EPOCHS} pix2pix epochs, for the cluster test"
    profile["models"]["pix2pix"] = {"train.n_epochs": VARIANT_EPOCHS}
    (work / "params" / "profiles" / f"{VARIANT}.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))


def train_process(run_dir: str) -> int | None:
    """The pid of the `ganrepro train` process with ``--out run_dir`` (on this, the only node), if running."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"train" in args and b"--out" in args and args[args.index(b"--out") + 1] == run_dir.encode():
            return int(proc.name)
    return None


def freeze_after_first_step(work: Path, run_dir: Path, build: subprocess.Popen[str], timeout: float = 900) -> int:
    """Wait until the run has logged a step, stop its process and return it (before it can finish)."""
    deadline = time.monotonic() + timeout
    losses = run_dir / "losses.csv"
    while time.monotonic() < deadline and build.poll() is None:
        if losses.exists() and len(losses.read_text().splitlines()) >= 2:
            pid = train_process(str(run_dir.relative_to(work)))
            if pid is not None:
                os.kill(pid, signal.SIGSTOP)
                return pid
        time.sleep(0.01)
    raise AssertionError(f"{run_dir} never trained a step under SLURM (build exit {build.poll()})")


def job_of(pid: int) -> str:
    """The SLURM job a process belongs to, from its environment."""
    items = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    environ = dict(item.split(b"=", 1) for item in items if b"=" in item)
    return environ[b"SLURM_JOB_ID"].decode()


def test_table_builds_on_slurm_and_a_timed_out_job_resumes(slurm: Cluster, tmp_path: Path) -> None:
    work = workflow_copy(tmp_path / "w")
    variant_profile(work)
    log = open(tmp_path / "snakemake.log", "w")  # noqa: SIM115 (the background build writes it)
    build = submit(slurm, BIN, work, [f"reports/{TABLE}.md"], ["dataset=synthetic", f"profile={VARIANT}"], log)
    results = work / "results" / "synthetic" / VARIANT
    frozen = results / TABLE / FROZEN_ROW / "seed0"
    try:
        pid = freeze_after_first_step(work, frozen, build)
        job = job_of(pid)
        slurm.run("scontrol", "update", f"JobId={job}", "TimeLimit=1")
        build.wait(timeout=1500)
    finally:
        stop(build)
        log.close()
    output = (tmp_path / "snakemake.log").read_text()
    assert build.returncode == 0, output[-6000:]

    # Every training job of this build (other tests share the cluster) was a SLURM job; the frozen one was
    # killed by its time limit, then ran again.
    jobs = [
        j for j in accounting(slurm, ["JobIdRaw", "State", "WorkDir%400", "Comment%500"]) if j["WorkDir"] == str(work)
    ]
    train_jobs = [(j["JobIdRaw"], j["State"], j["Comment"]) for j in jobs if j["Comment"].startswith("rule_train_")]
    done = {comment for _, state, comment in train_jobs if state == "COMPLETED"}
    assert len(done) == ROWS, jobs
    assert [(jid, state) for jid, state, _ in train_jobs if state != "COMPLETED"] == [(job, "TIMEOUT")]
    slurm_logs = work / ".snakemake" / "slurm_logs" / "rule_train"
    assert len(list(slurm_logs.glob("*/*.log"))) == ROWS + 1
    killed_log = next(slurm_logs.glob(f"*/{job}.log")).read_text()
    assert "DUE TO TIME LIMIT" in killed_log

    # It resumed from the checkpoint saved at SIGTERM instead of starting again.
    invocations = json.loads((frozen / "provenance.json").read_text())["invocations"]
    total = VARIANT_EPOCHS * 4  # smoke: 4 training images, batch 1
    assert len(invocations) == 2 and invocations[0]["resumed_from_step"] is None
    assert 0 < invocations[1]["resumed_from_step"] < total
    steps = [int(line.split(",")[0]) for line in (frozen / "losses.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, total + 1))

    # The report and every run's evaluation and MLflow record are there.
    report = (work / "reports" / f"{TABLE}.md").read_text()
    assert VARIANT in report and "synthetic" in report
    metrics = sorted((results / TABLE).glob("*/seed0/eval/test-trainmode/metrics.json"))
    assert len(metrics) == ROWS
    assert json.loads((frozen / "eval" / "test-trainmode" / "metrics.json").read_text())["run"]["step"] == total
    with sqlite3.connect(work / "mlflow.db") as con:
        runs = dict(con.execute("SELECT run_uuid, status FROM runs"))
        children = {r for (r,) in con.execute("SELECT run_uuid FROM tags WHERE key = 'mlflow.parentRunId'")}
        with_metrics = {r for (r,) in con.execute("SELECT DISTINCT run_uuid FROM metrics")}
    assert len(runs) == ROWS + 1 and set(runs.values()) == {"FINISHED"}  # the build's parent run and its rows
    assert len(children) == ROWS and children <= with_metrics


PACKING = "compatible:4"  # pix2pix on smoke: two packs (2 and 4 runs) and eight runs alone


def megabytes(req_mem: str) -> float:
    """sacct's ReqMem (``2000M``, ``8G``) in MB."""
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}
    return float(req_mem[:-1]) * scale[req_mem[-1]]


def minutes(time_limit: str) -> float:
    """sacct's Timelimit (``[D-]HH:MM:SS``) in minutes."""
    days, _, clock = time_limit.rpartition("-")
    hours, mins, secs = (int(part) for part in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + mins + secs / 60


def test_each_pack_trains_as_one_slurm_job_asking_for_its_rules_resources(slurm: Cluster, tmp_path: Path) -> None:
    """The training outputs of the pix2pix table's packs only (no evaluation, no segmenter): one SLURM job per
    pack, with the resources its rule declares, whose members are ordinary run directories, bit-identical to
    the same packs trained without SLURM."""
    plan = Plan("synthetic", "smoke", "data", None, PACKING)
    packs = [pack for pack in plan.packed() if pack.table == TABLE]
    assert sorted(len(pack.members) for pack in packs) == [2, 4]
    targets = [plan.final_checkpoint(TABLE, row, seed) for pack in packs for row, seed in pack.members]
    config = ["dataset=synthetic", "profile=smoke", f"pack={PACKING}"]
    # Built locally first; its prepared data (mtimes kept) spares the SLURM build its prepare job, which the
    # table test submits already, so that this build's jobs are the packs alone.
    local = workflow_copy(tmp_path / "local")
    snakemake("--cores", "2", *targets, "--config", *config, cwd=local)
    work = workflow_copy(tmp_path / "slurm")
    shutil.copytree(local / "data", work / "data")
    with open(tmp_path / "snakemake.log", "w") as log:
        build = submit(slurm, BIN, work, targets, config, log)
        try:
            build.wait(timeout=900)
        finally:
            stop(build)
    assert build.returncode == 0, (tmp_path / "snakemake.log").read_text()[-6000:]

    # This build's jobs (the table test's share the cluster): exactly one per pack, all completed, each asking
    # for what its rule declares.
    fields = ["JobIdRaw", "State", "ReqMem", "Timelimit", "WorkDir%400", "Comment%500"]
    jobs = {job["Comment"]: job for job in accounting(slurm, fields) if job["WorkDir"] == str(work)}
    assert sorted(jobs) == sorted(f"rule_{pack.job_name}" for pack in packs), jobs
    for pack in packs:
        job = jobs[f"rule_{pack.job_name}"]
        expected = pack_resources(plan, pack)  # the rule's resources: on the CPU, N runs' time and memory
        assert job["State"] == "COMPLETED", job
        assert (megabytes(job["ReqMem"]), minutes(job["Timelimit"])) == (expected["mem_mb"], expected["runtime"]), job

    # Each member's run directory is what `ganrepro train` writes for that run alone, and its weights are the
    # local build's, bit for bit.
    for pack in packs:
        for row, seed in pack.members:
            run_dir = work / plan.run_dir(TABLE, row, seed)
            run_config = plan.config(TABLE, row, seed)
            assert read_run_config(run_dir / "config.yaml") == run_config.to_dict()
            invocations = json.loads((run_dir / "provenance.json").read_text())["invocations"]
            assert len(invocations) == 1 and invocations[0]["resumed_from_step"] is None
            final = checkpoint.load(run_dir / "checkpoints" / "final.pt")
            assert final["config_digest"] == run_config.digest() and final["step"] == SMOKE_STEPS
            steps = [int(line.split(",")[0]) for line in (run_dir / "losses.csv").read_text().splitlines()[1:]]
            assert steps == list(range(1, SMOKE_STEPS + 1))
            target = plan.final_checkpoint(TABLE, row, seed)
            assert (work / target).read_bytes() == (local / target).read_bytes(), target


def test_dvc_repro_builds_the_same_runs_as_snakemake(tmp_path: Path) -> None:
    """`dvc repro` of the smoke pix2pix table: the same configs and weights as Snakemake, then nothing to do."""
    build = ["--dataset", "synthetic", "--profile", "smoke"]
    dvc_work = workflow_copy(tmp_path / "dvc")
    run([str(BIN / "ganrepro"), "dvc-yaml", *build], dvc_work)
    run([str(BIN / "dvc"), "init", "--no-scm", "-q"], dvc_work)
    first = run([str(BIN / "dvc"), "repro", f"latest-report-{TABLE}"], dvc_work)
    assert (dvc_work / "reports" / f"{TABLE}.md").is_file(), first.stdout[-3000:]
    again = run([str(BIN / "dvc"), "repro", f"latest-report-{TABLE}"], dvc_work).stdout
    assert "Running stage" not in again and "up to date" in again, again

    metrics = sorted(dvc_work.glob(f"results/synthetic/smoke/{TABLE}/*/seed0/eval/test-trainmode/metrics.json"))
    assert len(metrics) == ROWS
    # Snakemake, in another fresh copy, on two of those rows (one without a discriminator, one with): the
    # same config digest and bit-identical weights, so either tool can build or continue the other's table.
    smk_work = workflow_copy(tmp_path / "smk")
    targets = [
        f"results/synthetic/smoke/{TABLE}/{row}/seed0/eval/test-trainmode/metrics.json" for row in ("l1", "l1_cgan")
    ]
    snakemake("--cores", "2", *targets, "--config", "dataset=synthetic", "profile=smoke", cwd=smk_work)
    for target in targets:
        ours, theirs = (json.loads((w / target).read_text())["run"] for w in (dvc_work, smk_work))
        for key in ("config_digest", "config_sha256", "checkpoint_sha256", "step"):
            assert ours[key] == theirs[key], (target, key)
