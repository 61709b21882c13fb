"""Writing many params, tags and metric points to one run in few round trips.

A training run has thousands of loss points; one ``log_metric`` call each is a transaction each, which on
a shared sqlite database is slow and lock-prone.  ``log_batch`` takes at most 1000 metrics and 100 params
or tags per call, so everything is cut into chunks of those sizes.  Values become the strings MLflow
stores, cut to its length limits instead of failing the whole job over one long value.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ganrepro.tracking.store import retry

if TYPE_CHECKING:
    from mlflow import MlflowClient

METRICS_PER_BATCH = 1000
PARAMS_TAGS_PER_BATCH = 100
# MLflow's limits (mlflow.utils.validation), repeated here so that values can be prepared without mlflow.
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
MAX_KEY_LENGTH = 250

T = TypeVar("T")


@dataclass(frozen=True)
class Point:
    """One metric value at one training step."""

    key: str
    value: float
    step: int


def text(value: Any) -> str:
    """A value as YAML would print a scalar (true, null, 0.5); lists and mappings as compact JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def param_values(params: Mapping[str, Any]) -> dict[str, str]:
    return {clip(k, MAX_KEY_LENGTH): clip(text(v), MAX_PARAM_LENGTH) for k, v in params.items()}


def tag_values(tags: Mapping[str, Any]) -> dict[str, str]:
    return {clip(k, MAX_KEY_LENGTH): clip(text(v), MAX_TAG_LENGTH) for k, v in tags.items() if v is not None}


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (not a number, NaN, infinite, or a bool)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def log_all(
    client: MlflowClient,
    run_id: str,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    points: Sequence[Point] = (),
) -> None:
    """Log params, tags and metric points to ``run_id`` in chunks that ``log_batch`` accepts."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    param_list = [Param(k, v) for k, v in param_values(params or {}).items()]
    tag_list = [RunTag(k, v) for k, v in tag_values(tags or {}).items()]
    metric_list = [Metric(clip(p.key, MAX_KEY_LENGTH), p.value, now, p.step) for p in points]
    for part in chunks(param_list, PARAMS_TAGS_PER_BATCH):
        retry(client.log_batch, run_id, params=list(part), synchronous=True)
    for part in chunks(tag_list, PARAMS_TAGS_PER_BATCH):
        retry(client.log_batch, run_id, tags=list(part), synchronous=True)
    for part in chunks(metric_list, METRICS_PER_BATCH):
        retry(client.log_batch, run_id, metrics=list(part), synchronous=True)
