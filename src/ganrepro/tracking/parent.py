"""The parent run of one table build: one (table, dataset, profile) = one MLflow run in ``ganrepro/<table>``.

The parent carries what is common to every training run of the build (code version, profile, seeds) and
is finished at once: its children are logged later, each by its own ``ganrepro track log`` job, possibly on
other machines, and attach themselves by ``mlflow.parentRunId``.  A parent that stayed RUNNING until the
last child would show a build as running forever whenever one job fails.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ganrepro import __version__
from ganrepro.runfiles import git_commit, split_commit
from ganrepro.tracking.batch import log_all, tag_values
from ganrepro.tracking.records import ParentRecord, write_record
from ganrepro.tracking.store import (
    ensure_experiment,
    experiment_name,
    open_client,
    retry,
    tracking_uri,
)

KIND_TABLE_BUILD = "table_build"


def git_tags(commit_text: str | None) -> dict[str, Any]:
    """``ganrepro.git_commit`` / ``ganrepro.git_dirty`` and MLflow's own commit tag, when a commit is known."""
    commit, dirty = split_commit(commit_text)
    if commit is None:
        return {}
    return {"ganrepro.git_commit": commit, "ganrepro.git_dirty": dirty, "mlflow.source.git.commit": commit}


def build_description(table: str, dataset: str, profile: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tags, params) of a parent run, from the table and profile files (which also checks the names)."""
    from ganrepro.preparation.registry import get_spec
    from ganrepro.workflow.profile import load_profile
    from ganrepro.workflow.spec import load_table

    spec = load_table(table)
    prof = load_profile(profile)
    get_spec(dataset)
    tags = {
        "ganrepro.table": table,
        "ganrepro.dataset": dataset,
        "ganrepro.profile": profile,
        "ganrepro.kind": KIND_TABLE_BUILD,
        "ganrepro.version": __version__,
        "ganrepro.table_title": spec.title,
        "ganrepro.profile_description": prof.description,
        "mlflow.note.content": f"{spec.title} on {dataset}, profile {profile}: {prof.description}",
        "mlflow.source.name": "ganrepro track start",
        **git_tags(git_commit()),
    }
    params = {
        "table": table,
        "dataset": dataset,
        "profile": profile,
        "model": spec.model,
        "seeds": ",".join(str(s) for s in prof.seeds),
        "rows": ",".join(spec.rows),
        "replication": prof.replication,
        "citation": spec.citation,
    }
    return tags, params


def start_parent(table: str, dataset: str, profile: str, out_json: str | Path) -> ParentRecord:
    """Create (the store, the experiment and) the finished parent run of a table build; write ``out_json``."""
    tags, params = build_description(table, dataset, profile)
    uri = tracking_uri()
    client = open_client(uri)
    experiment_id = ensure_experiment(client, uri, table)
    run = retry(client.create_run, experiment_id, tags=tag_values(tags), run_name=f"{table} {dataset}/{profile}")
    run_id = run.info.run_id
    log_all(client, run_id, params=params)
    retry(client.set_terminated, run_id, "FINISHED")
    record = ParentRecord(
        tracking_uri=uri,
        experiment_id=experiment_id,
        experiment_name=experiment_name(table),
        parent_run_id=run_id,
        table=table,
        dataset=dataset,
        profile=profile,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    write_record(out_json, record)
    return record
