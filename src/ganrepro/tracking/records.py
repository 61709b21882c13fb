"""The small JSON files that link pipeline outputs to MLflow runs.

``mlflow_parent.json`` (written by ``ganrepro track start``) names the tracking store, experiment and parent
run of one table build; every ``track log`` and ``report --mlflow-parent`` of that build reads it to find
where to log.  ``mlflow.json`` (one per run directory) records the child run, and is the DAG's proof that
the run was logged.  Both are written atomically so that an interrupted job never leaves half a record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ganrepro import atomic
from ganrepro.errors import UserError
from ganrepro.runfiles import read_json

PARENT_FIELDS = (
    "tracking_uri",
    "experiment_id",
    "experiment_name",
    "parent_run_id",
    "table",
    "dataset",
    "profile",
    "created",
)


class _Record:
    def to_dict(self) -> dict[str, str]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class ParentRecord(_Record):
    tracking_uri: str
    experiment_id: str
    experiment_name: str
    parent_run_id: str
    table: str
    dataset: str
    profile: str
    created: str


@dataclass(frozen=True)
class ChildRecord(_Record):
    run_id: str
    parent_run_id: str
    key: str
    experiment_id: str
    tracking_uri: str


def write_record(path: str | Path, record: ParentRecord | ChildRecord) -> None:
    atomic.write_json(path, record.to_dict())


def read_parent(path: str | Path) -> ParentRecord:
    """The parent record at ``path``; UserError if it is missing, corrupt or incomplete."""
    path = Path(path)
    hint = "run `ganrepro track start TABLE --dataset D --profile P --out FILE` to create it"
    try:
        data = read_json(path, "MLflow parent record")
    except UserError as err:
        raise UserError(f"{err}; {hint}") from None
    bad = [f for f in PARENT_FIELDS if not isinstance(data.get(f), str) or not data[f]]
    if bad:
        raise UserError(f"MLflow parent record {path} lacks {', '.join(bad)}; delete it and {hint}")
    return ParentRecord(**{f: data[f] for f in PARENT_FIELDS})
