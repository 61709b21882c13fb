"""Snakemake builds submitted to the test cluster through the shipped SLURM profile, and the cluster's record
of their jobs (sacct), for the tests in tests/test_cluster.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import IO

from cluster.node import Cluster


def build_env(cluster: Cluster, bin_dir: Path) -> dict[str, str]:
    """The submitting shell's environment: the profile's partition and account variables, this checkout's
    tools first on PATH, and none of the variables that would send the build's data or records elsewhere."""
    env = {
        **cluster.env,
        "GANREPRO_SLURM_PARTITION": cluster.partition,
        "GANREPRO_SLURM_ACCOUNT": cluster.account,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    for key in ("MLFLOW_TRACKING_URI", "GANREPRO_PARAMS", "GANREPRO_DATA_DIR"):
        env.pop(key, None)
    return env


def submit(
    cluster: Cluster, bin_dir: Path, work: Path, targets: list[str], config: list[str], log: IO[str]
) -> subprocess.Popen[str]:
    """Start ``snakemake --workflow-profile pipeline/executors/slurm TARGETS --config CONFIG`` in ``work``.

    The first status check comes after 2 s instead of the plugin's 40 (a smoke job takes seconds), and the
    SLURM logs of successful jobs are kept, for the tests to read."""
    return subprocess.Popen(
        [
            str(bin_dir / "snakemake"),
            "--workflow-profile",
            "pipeline/executors/slurm",
            *targets,
            "--config",
            *config,
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--slurm-keep-successful-logs",
        ],
        cwd=work,
        env=build_env(cluster, bin_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(build: subprocess.Popen[str]) -> None:
    """End a build still running (a failed assertion or a timeout): SIGTERM, on which Snakemake cancels its
    SLURM jobs, then SIGKILL if it has not exited within a minute."""
    if build.poll() is None:
        build.terminate()
        try:
            build.wait(timeout=60)
        except subprocess.TimeoutExpired:
            build.kill()
            build.wait()


def accounting(cluster: Cluster, fields: list[str]) -> list[dict[str, str]]:
    """Every job the cluster has run (allocations only, no steps), each as ``{field: value}``.

    ``fields`` are sacct's format fields; a width (``Comment%500``) keeps long values whole, and the last
    field may hold ``|``."""
    names = [field.split("%")[0] for field in fields]
    lines = cluster.run(
        "sacct", "-X", "--parsable2", "--noheader", "--starttime", "2020-01-01", f"--format={','.join(fields)}"
    ).stdout.splitlines()
    return [dict(zip(names, line.split("|", len(names) - 1), strict=True)) for line in lines if line]
