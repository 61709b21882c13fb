"""MLflow tracking of table builds: parent and child runs, replacement of a re-logged run, concurrent loggers,
report artifacts, and the one-line errors for missing inputs.  Run directories are faked (no training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ganrepro.cli import main
from ganrepro.config import dump_yaml, load_config
from ganrepro.errors import UserError
from ganrepro.tracking import (
    log_report,
    log_run,
    read_parent,
    start_parent,
    tracking_uri,
)
from ganrepro.tracking.history import loss_points
from ganrepro.tracking.scores import final_scores

TABLE = "pix2pix_ablation"
LOSSES = ("G_GAN", "G_L1", "D_real", "D_fake")
STEPS = 12
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DATA_HASH = "e7" * 32


def metrics_document(step: int) -> dict:
    unavailable = {"available": False, "reason": "no Inception weights offline"}
    return {
        "format": "ganrepro-metrics/1",
        "ganrepro": "0.1.0",
        "run": {"model": "pix2pix", "config_digest": "38a941b51430b9f7", "step": step, "epoch": 1},
        "data": {"dataset": "synthetic", "data_hash": DATA_HASH, "split": "test", "crop_size": 32},
        "metrics": {
            "fcn": {
                "pixel_acc": 0.5,
                "class_acc": 0.25,
                "class_iou": 0.125,
                "class_acc_present_only": 0.3,
                "class_iou_present_only": 0.15,
                "per_class": {"facade": {"acc": 1.0}},
                "confusion_matrix": [[1, 0], [0, 1]],
                "ground_truth": {"pixel_acc": 0.9, "class_acc": 0.8, "class_iou": 0.7, "n_images": 2},
            },
            "fid": unavailable,
            "kid": {"value": 0.02, "mean": 0.02, "std": 0.001, "n_subsets": 100},
            "ssim": {"value": 0.4, "value_y": 0.45, "n_images": 2},
            "psnr": {"value": None, "n_images": 2, "identical_pairs": 2},
        },
    }


def make_run_dir(root: Path, row: str, seed: int = 0) -> Path:
    """A finished, evaluated pix2pix run directory laid out as ``ganrepro train`` + ``evaluate`` leave it."""
    run = root / "results" / "synthetic" / "smoke" / TABLE / row / f"seed{seed}"
    (run / "samples").mkdir(parents=True)
    (run / "eval" / "test-trainmode").mkdir(parents=True)
    config = load_config(
        None, ["model=pix2pix", f"seed={seed}", "data.load_size=36", "data.crop_size=32", "network.generator=unet"]
    )
    (run / "config.yaml").write_text(dump_yaml(config))
    invocation = {
        "time": "2026-01-01T00:00:00+00:00",
        "command": ["ganrepro", "train"],
        "ganrepro_version": "0.1.0",
        "git_commit": f"{COMMIT}-dirty",
        "data_hash": DATA_HASH,
        "resumed_from_step": None,
    }
    (run / "provenance.json").write_text(json.dumps({"invocations": [invocation]}))
    lines = [",".join(("step", "epoch", "iter", "lr", "seconds", *LOSSES))]
    lines += [f"{s},1,{s},0.0002,{s * 0.01:.3f},{0.5 + s},{40.0 - s},{0.6},{0.7}" for s in range(1, STEPS + 1)]
    (run / "losses.csv").write_text("\n".join(lines) + "\n")
    image = Image.new("RGB", (8, 8), (200, 20, 20))
    image.save(run / "loss_curves.png")
    for step in (4, STEPS):
        image.save(run / "samples" / f"step{step:08d}.png")
    (run / "eval" / "test-trainmode" / "metrics.json").write_text(json.dumps(metrics_document(STEPS)))
    return run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def children(client, parent_run_id: str, experiment_id: str) -> list:
    return client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}'")


# ------------------------------------------------------------------------------------------------ no MLflow


def test_tracking_uri_is_absolute(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracking_uri() == f"sqlite:///{workdir.absolute()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///sub/other.db")
    assert tracking_uri() == f"sqlite:///{workdir.absolute()}/sub/other.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking_uri() == "http://tracking.example:5000"


def test_scores_and_losses_from_files(workdir: Path) -> None:
    run = make_run_dir(workdir, "l1")
    scores = final_scores(json.loads((run / "eval/test-trainmode/metrics.json").read_text()))
    assert scores["fcn_pixel_acc"] == 0.5 and scores["fcn_gt_class_iou"] == 0.7
    assert scores["kid_mean"] == 0.02 and scores["ssim_rgb"] == 0.4 and scores["ssim_y"] == 0.45
    assert "fid" not in scores and "psnr" not in scores  # unavailable, and null
    points = loss_points(run / "losses.csv")
    assert len(points) == STEPS * (len(LOSSES) + 1)
    assert {p.key for p in points} == {"lr", *(f"loss/{name}" for name in LOSSES)}


def test_clear_errors_for_missing_inputs(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parent = workdir / "parent.json"
    args = ["--parent", str(parent), "--table", TABLE, "--row", "l1", "--seed", "0", "--out", "x.json"]
    assert main(["track", "log", "results/nowhere", *args]) == 2
    assert "does not exist" in capsys.readouterr().err
    run = make_run_dir(workdir, "l1")
    (run / "eval/test-trainmode/metrics.json").unlink()
    assert main(["track", "log", str(run), *args]) == 2
    assert "metrics.json" in capsys.readouterr().err
    run = make_run_dir(workdir, "gan")
    assert main(["track", "log", str(run), *args]) == 2
    assert "not found" in capsys.readouterr().err
    parent.write_text("{not json")
    assert main(["track", "log", str(run), *args]) == 2
    assert "not readable JSON" in capsys.readouterr().err
    with pytest.raises(UserError, match="not found"):
        log_report(parent, [workdir / "missing.md"])


# ------------------------------------------------------------------------------------------------ MLflow


def test_parent_child_replacement_and_report(workdir: Path) -> None:
    from mlflow import MlflowClient

    parent_json = workdir / "results/synthetic/smoke" / TABLE / "mlflow_parent.json"
    record = start_parent(TABLE, "synthetic", "smoke", parent_json)
    assert (workdir / "mlflow.db").is_file()
    assert record.tracking_uri == f"sqlite:///{workdir.absolute()}/mlflow.db"
    saved = json.loads(parent_json.read_text())
    assert saved["parent_run_id"] == record.parent_run_id and saved["experiment_name"] == f"ganrepro/{TABLE}"
    assert set(saved) == {
        "tracking_uri",
        "experiment_id",
        "experiment_name",
        "parent_run_id",
        "table",
        "dataset",
        "profile",
        "created",
    }

    client = MlflowClient(record.tracking_uri)
    parent = client.get_run(record.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.info.run_name == f"{TABLE} synthetic/smoke"
    tags = parent.data.tags
    assert tags["ganrepro.kind"] == "table_build" and tags["ganrepro.dataset"] == "synthetic"
    assert tags["ganrepro.profile"] == "smoke" and tags["ganrepro.table"] == TABLE
    assert tags["ganrepro.profile_description"]
    assert parent.data.params["seeds"] == "0"
    experiment = client.get_experiment(record.experiment_id)
    assert experiment.artifact_location == (workdir.absolute() / "mlartifacts" / TABLE).as_uri()

    run = make_run_dir(workdir, "l1_cgan")
    first = log_run(run, parent_json, TABLE, "l1_cgan", 0, run / "mlflow.json")
    assert json.loads((run / "mlflow.json").read_text())["run_id"] == first.run_id
    child = client.get_run(first.run_id)
    assert child.info.status == "FINISHED" and child.info.run_name == "l1_cgan seed0"
    assert child.data.tags["mlflow.parentRunId"] == record.parent_run_id
    assert child.data.tags["ganrepro.key"] == f"{TABLE}/synthetic/smoke/l1_cgan/seed0"
    assert child.data.tags["ganrepro.git_commit"] == COMMIT and child.data.tags["ganrepro.git_dirty"] == "true"
    assert child.data.tags["ganrepro.data_hash"] == DATA_HASH
    params = child.data.params
    assert params["data.crop_size"] == "32" and params["model"] == "pix2pix" and params["data.flip"] == "true"
    assert params["row"] == "l1_cgan" and params["seed"] == "0" and params["table"] == TABLE
    history = client.get_metric_history(first.run_id, "loss/G_L1")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == list(range(1, STEPS + 1))
    assert len(client.get_metric_history(first.run_id, "lr")) == STEPS
    metrics = child.data.metrics
    assert metrics["fcn_pixel_acc"] == 0.5 and metrics["kid_mean"] == 0.02 and "fid" not in metrics
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"metrics.json", "config.yaml", "provenance.json", "loss_curves.png", "samples"} <= artifacts
    assert [a.path for a in client.list_artifacts(first.run_id, "samples")] == [f"samples/step{STEPS:08d}.png"]

    second = log_run(run, parent_json, TABLE, "l1_cgan", 0, run / "mlflow.json")
    active = children(client, record.parent_run_id, record.experiment_id)
    assert [r.info.run_id for r in active] == [second.run_id] != [first.run_id]
    assert client.get_run(first.run_id).info.lifecycle_stage == "deleted"

    with pytest.raises(UserError, match="parent of table"):
        log_run(run, parent_json, "cyclegan_ablation", "l1_cgan", 0, run / "other.json")

    reports = workdir / "reports"
    figures = reports / "synthetic/smoke" / TABLE
    figures.mkdir(parents=True)
    (reports / f"{TABLE}.md").write_text("# table\n")
    (reports / "synthetic/smoke" / f"{TABLE}.md").write_text("# table\n")
    Image.new("RGB", (4, 4)).save(figures / "a_losses.png")
    logged = log_report(
        parent_json, [reports / f"{TABLE}.md", reports / "synthetic/smoke" / f"{TABLE}.md", figures / "a_losses.png"]
    )
    assert logged == [
        f"report/{TABLE}.md",
        f"report/synthetic/smoke/{TABLE}.md",
        f"report/synthetic/smoke/{TABLE}/a_losses.png",
    ]
    assert {a.path for a in client.list_artifacts(record.parent_run_id, "report")} == {
        f"report/{TABLE}.md",
        "report/synthetic",
    }
    assert [a.path for a in client.list_artifacts(record.parent_run_id, f"report/synthetic/smoke/{TABLE}")] == [
        f"report/synthetic/smoke/{TABLE}/a_losses.png"
    ]


def test_concurrent_loggers_lose_no_run(workdir: Path) -> None:
    from mlflow import MlflowClient

    parent_json = workdir / "mlflow_parent.json"
    assert (
        main(["track", "start", TABLE, "--dataset", "synthetic", "--profile", "smoke", "--out", str(parent_json)]) == 0
    )
    record = read_parent(parent_json)
    rows = ("l1", "gan", "cgan", "l1_gan")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    procs = []
    for row in rows:
        run = make_run_dir(workdir, row)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ganrepro.cli",
                    "track",
                    "log",
                    str(run),
                    "--parent",
                    str(parent_json),
                    "--table",
                    TABLE,
                    "--row",
                    row,
                    "--seed",
                    "0",
                    "--out",
                    str(run / "mlflow.json"),
                ],
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert all("child run" in out for out in outputs)
    client = MlflowClient(record.tracking_uri)
    logged = children(client, record.parent_run_id, record.experiment_id)
    assert sorted(r.data.tags["ganrepro.row"] for r in logged) == sorted(rows)
    assert all(r.info.status == "FINISHED" for r in logged)
    assert all(len(client.get_metric_history(r.info.run_id, "loss/G_GAN")) == STEPS for r in logged)
