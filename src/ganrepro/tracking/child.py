"""One child run per (table, row, seed) of a table build, logged from a finished, evaluated run directory.

The child is identified by the tag ``ganrepro.key = <table>/<dataset>/<profile>/<row>/seed<seed>`` under its
parent.  Logging a key again (after a retrain, or a re-evaluation) replaces the earlier child: active runs
with the same key and parent are deleted (MLflow's soft delete, recoverable) before the new one is created,
and once it is complete any same-key run that started earlier is swept away too, so a build shows exactly
one child per key even if two loggers of one key overlapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganrepro import __version__
from ganrepro.errors import UserError
from ganrepro.runfiles import (
    LOSSES_FILE,
    METRICS_FILE,
    artifact_files,
    check_run_dir,
    config_params,
    provenance,
    read_json,
)
from ganrepro.tracking.batch import Point, log_all, tag_values
from ganrepro.tracking.history import loss_points
from ganrepro.tracking.parent import git_tags
from ganrepro.tracking.records import (
    ChildRecord,
    ParentRecord,
    read_parent,
    write_record,
)
from ganrepro.tracking.scores import final_scores, final_step, reverse_scores
from ganrepro.tracking.store import open_client, retry

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

KIND_TRAINING_RUN = "training_run"
KEY_TAG = "ganrepro.key"
PARENT_TAG = "mlflow.parentRunId"


def run_key(table: str, dataset: str, profile: str, row: str, seed: int) -> str:
    return f"{table}/{dataset}/{profile}/{row}/seed{seed}"


def same_key_runs(client: MlflowClient, parent: ParentRecord, key: str) -> list[Run]:
    """Active runs of the experiment with tag ``ganrepro.key = key`` under ``parent``."""
    from mlflow.entities import ViewType

    if "'" in key or "\\" in key:
        raise UserError(f"run key {key!r} contains a quote or backslash; use plain row and table names")
    query = f"tags.`{KEY_TAG}` = '{key}' and tags.`{PARENT_TAG}` = '{parent.parent_run_id}'"
    found: list[Run] = []
    token = None
    while True:
        page = retry(
            client.search_runs,
            [parent.experiment_id],
            query,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000,
            page_token=token,
        )
        found.extend(page)
        token = page.token
        if not token:
            return found


def check_parent(client: MlflowClient, parent: ParentRecord, parent_json: str | Path) -> None:
    """The recorded parent run must exist, active, in the recorded experiment."""
    from mlflow.exceptions import MlflowException

    stale = (
        f"delete {parent_json} and rerun `ganrepro track start {parent.table} --dataset {parent.dataset} "
        f"--profile {parent.profile} --out {parent_json}`"
    )
    try:
        run = retry(client.get_run, parent.parent_run_id)
    except MlflowException:
        raise UserError(
            f"parent run {parent.parent_run_id} of {parent_json} is not in {parent.tracking_uri}; {stale}"
        ) from None
    if run.info.experiment_id != parent.experiment_id or run.info.lifecycle_stage != "active":
        raise UserError(f"parent run {parent.parent_run_id} of {parent_json} was deleted or moved; {stale}")


def child_tags(
    run_dir: Path,
    parent: ParentRecord,
    row: str,
    seed: int,
    key: str,
    metrics_doc: dict[str, Any],
    config: dict[str, Any],
) -> dict[str, Any]:
    prov = provenance(run_dir)
    data = metrics_doc.get("data") if isinstance(metrics_doc.get("data"), dict) else {}
    run_info = metrics_doc.get("run") if isinstance(metrics_doc.get("run"), dict) else {}
    tags: dict[str, Any] = {
        PARENT_TAG: parent.parent_run_id,
        KEY_TAG: key,
        "ganrepro.kind": KIND_TRAINING_RUN,
        "ganrepro.table": parent.table,
        "ganrepro.dataset": parent.dataset,
        "ganrepro.profile": parent.profile,
        "ganrepro.row": row,
        "ganrepro.seed": seed,
        "ganrepro.model": config.get("model"),
        "ganrepro.run_dir": str(run_dir.absolute()),
        "ganrepro.version": __version__,
        "ganrepro.trained_with_version": prov.ganrepro_version,
        "ganrepro.data_hash": data.get("data_hash") or prov.data_hash,
        "ganrepro.train_data_hash": prov.data_hash,
        "ganrepro.config_digest": run_info.get("config_digest"),
        "mlflow.source.name": "ganrepro track log",
        **git_tags(prov.commits[-1] if prov.commits else None),
    }
    if len(prov.commits) > 1:
        tags["ganrepro.git_commits"] = ",".join(prov.commits)
    return tags


def log_run(
    run_dir: str | Path, parent_json: str | Path, table: str, row: str, seed: int, out_json: str | Path
) -> ChildRecord:
    """Log one evaluated run directory as the child ``<row> seed<seed>`` of the build in ``parent_json``,
    replacing any earlier child of the same key; write ``out_json``."""
    path = check_run_dir(run_dir)
    parent = read_parent(parent_json)
    if parent.table != table:
        raise UserError(f"{parent_json} is the parent of table {parent.table!r}, not {table!r}")
    metrics_doc = read_json(path / METRICS_FILE, "metrics file")
    scores = final_scores(metrics_doc, str(path / METRICS_FILE))
    scores.update(reverse_scores(metrics_doc, (path / METRICS_FILE).parent, str(path / METRICS_FILE)))
    config = config_params(path)
    if "seed" in config and str(config["seed"]) != str(seed):
        raise UserError(f"{path} was trained with seed {config['seed']}, not --seed {seed}")
    key = run_key(table, parent.dataset, parent.profile, row, seed)
    tags = child_tags(path, parent, row, seed, key, metrics_doc, config)
    step = final_step(metrics_doc)
    points = loss_points(path / LOSSES_FILE) + [Point(name, value, step) for name, value in scores.items()]
    params = {**config, "table": table, "row": row, "seed": seed}

    client = open_client(parent.tracking_uri, must_exist=True)
    check_parent(client, parent, parent_json)
    for old in same_key_runs(client, parent, key):
        retry(client.delete_run, old.info.run_id)
    run = retry(client.create_run, parent.experiment_id, tags=tag_values(tags), run_name=f"{row} seed{seed}")
    run_id = run.info.run_id
    try:
        log_all(client, run_id, params=params, points=points)
        for file, folder in artifact_files(path):
            retry(client.log_artifact, run_id, str(file), folder)
    except BaseException:
        retry(client.set_terminated, run_id, "FAILED")
        raise
    retry(client.set_terminated, run_id, "FINISHED")
    ours = (run.info.start_time, run_id)
    for other in same_key_runs(client, parent, key):
        if (other.info.start_time, other.info.run_id) < ours:
            retry(client.delete_run, other.info.run_id)
    record = ChildRecord(
        run_id=run_id,
        parent_run_id=parent.parent_run_id,
        key=key,
        experiment_id=parent.experiment_id,
        tracking_uri=parent.tracking_uri,
    )
    write_record(out_json, record)
    return record
