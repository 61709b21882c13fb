"""Read every run of a table build into plain dataclasses, checking that each is the run the table asks for.

A report that silently drops a row, or shows a run trained with other settings than the table and profile
now define, would misstate what was measured; so every missing or inconsistent file is a
:class:`~ganrepro.errors.UserError` naming the file and the row.  Paths come from :class:`Plan` only.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganrepro.config import ConfigError, load_config
from ganrepro.errors import UserError
from ganrepro.runfiles import (
    CONFIG_FILE,
    LOSSES_FILE,
    METRICS_FORMAT,
    PROVENANCE_FILE,
    REVERSE_DIR,
    differing_keys,
)
from ganrepro.workflow.plan import Plan

FCN_KEYS = ("pixel_acc", "class_acc", "class_iou")
#: metrics.json entry -> the keys tried, in order, for its headline number (KID: the mean over subsets;
#: SSIM: the RGB value, as the evaluation's summary prints it).
SCALAR_KEYS = {"fid": ("value",), "kid": ("mean", "value"), "ssim": ("value",), "psnr": ("value",)}
#: Prefixes of the measures of the other scores: ``labelmap_pixel_acc`` (photo→labels), ``colorhist_L``, and
#: ``reverse_…`` for CycleGAN's second generator (``evaluate --reverse``).
LABELMAP, COLORHIST, REVERSE = "labelmap_", "colorhist_", "reverse_"
COLORHIST_KEYS = ("L", "a", "b")
#: Config keys that may differ from the plan without changing what was trained (data identity is checked
#: through the data hash instead).
IGNORED_CONFIG_KEYS = ("data.root",)


@dataclass(frozen=True)
class Measure:
    """One number of one run, or why there is none."""

    value: float | None
    reason: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """What the report needs from one run (row × seed)."""

    row: str
    seed: int
    run_dir: Path
    metrics_path: Path
    measures: dict[str, Measure]  # pixel_acc, class_acc, class_iou, fid, kid, ssim, psnr, labelmap_*,
    # colorhist_*, and reverse_* of each (see measure_key)
    ground_truth: dict[str, Measure]  # pixel_acc, class_acc, class_iou of the real photos
    config_digest: str
    checkpoint_sha256: str
    step: int
    epoch: int
    data_hash: str | None  # of the data the evaluation read
    train_data_hashes: tuple[str | None, ...]  # per training invocation
    commits: tuple[str, ...]  # per training invocation
    ganrepro_version: str
    evaluated: dt.datetime  # metrics.json's time
    crop_size: int
    n_epochs: int
    n_epochs_decay: int
    batch_size: int
    losses_csv: Path
    eval_dir: Path
    per_image: dict[str, Any] | None = None  # metrics.json's record of per_image.npz; None if not kept
    reverse_per_image: dict[str, Any] | None = None  # the same for the reverse generator's evaluation

    @property
    def reverse_dir(self) -> Path:
        return self.eval_dir / "reverse"

    @property
    def name(self) -> str:
        return f"{self.row}/seed{self.seed}"


def collect_runs(plan: Plan, table: str) -> list[RunRecord]:
    """Every run of ``table`` in the plan's order (rows, then seeds)."""
    return [read_run(plan, table, row, seed) for row, seed in plan.runs(table)]


def read_run(plan: Plan, table: str, row: str, seed: int) -> RunRecord:
    run_dir = Path(plan.run_dir(table, row, seed))
    where = f"row {row!r} ({plan.table(table).rows[row].label}), seed {seed}"
    metrics_path = Path(plan.metrics_json(table, row, seed))
    doc = read_document(metrics_path, where, "metrics file (written by `ganrepro evaluate`)")
    if doc.get("format") != METRICS_FORMAT:
        raise UserError(f"{metrics_path} ({where}) has format {doc.get('format')!r}, expected {METRICS_FORMAT!r}")
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        raise UserError(f"missing run config {config_path} for {where}")
    try:
        config = load_config(config_path)
    except ConfigError as err:
        raise UserError(f"{where}: {err}") from None
    _check_config(plan, table, row, seed, config, doc, run_dir, metrics_path, where)
    provenance = read_document(run_dir / PROVENANCE_FILE, where, "provenance file")
    invocations = provenance.get("invocations") or []
    losses_csv = run_dir / LOSSES_FILE
    if not losses_csv.is_file():
        raise UserError(f"missing loss log {losses_csv} for {where}")
    try:
        run, data, metrics = doc["run"], doc["data"], doc["metrics"]
        measures = read_measures(metrics, metrics_path)
        reverse_doc = _reverse(doc, metrics_path, where)
        reverse_metrics = (reverse_doc or {}).get("metrics") or {}
        measures.update(
            {
                REVERSE + k: m
                for k, m in read_measures(
                    reverse_metrics, metrics_path.parent / REVERSE_DIR, _NO_REVERSE if reverse_doc is None else None
                ).items()
            }
        )
        ground_truth = read_ground_truth(metrics, metrics_path)
        return RunRecord(
            row=row,
            seed=seed,
            run_dir=run_dir,
            metrics_path=metrics_path,
            measures=measures,
            ground_truth=ground_truth,
            config_digest=str(run["config_digest"]),
            checkpoint_sha256=str(run["checkpoint_sha256"]),
            step=int(run["step"]),
            epoch=int(run["epoch"]),
            data_hash=data.get("data_hash"),
            train_data_hashes=tuple(i.get("data_hash") for i in invocations),
            commits=tuple(str(i.get("git_commit") or "unknown") for i in invocations),
            ganrepro_version=str(doc.get("ganrepro", "unknown")),
            evaluated=_utc(dt.datetime.fromisoformat(doc["time"])),
            crop_size=config.data.crop_size,
            n_epochs=config.train.n_epochs,
            n_epochs_decay=config.train.n_epochs_decay,
            batch_size=config.train.batch_size,
            losses_csv=losses_csv,
            eval_dir=metrics_path.parent,
            per_image=doc.get("per_image"),
            reverse_per_image=(reverse_doc or {}).get("per_image"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{metrics_path} ({where}) is not a complete metrics file: bad or missing {err}") from None


# ----------------------------------------------------------------------------------------------- helpers


def read_document(path: Path, where: str, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"missing {what} {path} for {where}; a report never leaves a row out")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path} ({where}): {err}") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path} ({where}) is not a JSON object")
    return doc


def _check_config(
    plan: Plan,
    table: str,
    row: str,
    seed: int,
    config: Any,
    doc: dict[str, Any],
    run_dir: Path,
    metrics_path: Path,
    where: str,
) -> None:
    """The run must be the one the table and profile define now, and the metrics must be of that run."""
    expected = plan.config(table, row, seed).to_dict()
    differ = [k for k in differing_keys(config.to_dict(), expected) if k not in IGNORED_CONFIG_KEYS]
    if differ:
        raise UserError(
            f"{where}: the run in {run_dir} was trained with another config than "
            f"table {table!r} and profile {plan.profile_name!r} now define (differs in: "
            f"{', '.join(differ)}); retrain it"
        )
    recorded = (doc.get("run") or {}).get("config_digest")
    if recorded != config.digest():
        raise UserError(
            f"{metrics_path} ({where}) scores config {recorded}, but the run's config.yaml is "
            f"{config.digest()}; re-evaluate the run"
        )


def _number(value: Any, path: Path, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{path}: {key} is {value!r}, not a finite number")
    return float(value)


def _entry(metrics: dict[str, Any], name: str, missing: str | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """(the metric's entry, None) or (None, why it has no numbers)."""
    entry = metrics.get(name)
    if entry is None:
        return None, missing or f"{name.upper()} was not computed (not among the evaluation's metrics)"
    if entry.get("available") is False:
        return None, str(entry.get("reason") or "no reason recorded")
    return entry, None


_NO_REVERSE = (
    "the run's second generator was not evaluated (no `reverse` in metrics.json); re-run "
    "`ganrepro evaluate RUN_DIR --reverse`"
)


def measure_key(metric: str, column: str, direction: str = "forward") -> str:
    """The :class:`RunRecord` measure of a section's ``metric`` column (``fcn`` columns and the image-quality
    metrics keep their own names), in the section's ``direction``."""
    key = {"labelmap": LABELMAP + column, "colorhist": COLORHIST + column}.get(metric, column)
    return REVERSE + key if direction == "reverse" else key


def _reverse(doc: dict[str, Any], path: Path, where: str) -> dict[str, Any] | None:
    """The reverse generator's metrics file that ``doc`` names (checked by its SHA-256), or None."""
    from ganrepro.hashing import sha256_file

    record = doc.get("reverse")
    if record is None:
        return None
    target = path.parent / str(record.get("file"))
    if not target.is_file() or sha256_file(target) != record.get("sha256"):
        raise UserError(
            f"{target} ({where}) is missing or not the file {path} names; re-run `ganrepro evaluate "
            "--reverse` on the run"
        )
    return read_document(target, where, "reverse metrics file")


def read_measures(metrics: dict[str, Any], path: Path, missing: str | None = None) -> dict[str, Measure]:
    """Every measure of one evaluation; ``missing`` is the reason for all of them when there is none."""
    out: dict[str, Measure] = {}
    fcn, reason = _entry(metrics, "fcn", missing)
    for key in FCN_KEYS:
        out[key] = Measure(_number(fcn[key], path, f"fcn.{key}")) if fcn else Measure(None, reason)
    labelmap, reason = _entry(metrics, "labelmap", missing)
    for key in FCN_KEYS:
        out[LABELMAP + key] = (
            Measure(_number(labelmap[key], path, f"labelmap.{key}")) if labelmap else Measure(None, reason)
        )
    colorhist, reason = _entry(metrics, "colorhist", missing)
    for key in COLORHIST_KEYS:
        out[COLORHIST + key] = (
            Measure(_number(colorhist[key], path, f"colorhist.{key}")) if colorhist else Measure(None, reason)
        )
    for name, keys in SCALAR_KEYS.items():
        entry, reason = _entry(metrics, name, missing)
        if entry is None:
            out[name] = Measure(None, reason)
            continue
        key = next((k for k in keys if k in entry), keys[0])
        value = entry.get(key)
        out[name] = (
            Measure(_number(value, path, f"{name}.{key}"))
            if value is not None
            else Measure(None, f"{name.upper()}: {entry.get('note') or 'no value recorded'}")
        )
    return out


def read_ground_truth(metrics: dict[str, Any], path: Path) -> dict[str, Measure]:
    fcn, reason = _entry(metrics, "fcn")
    gt = (fcn or {}).get("ground_truth")
    if not gt:
        why = reason or "the FCN-score of the real photos is not recorded"
        return {key: Measure(None, why) for key in FCN_KEYS}
    return {key: Measure(_number(gt[key], path, f"fcn.ground_truth.{key}")) for key in FCN_KEYS}


def _utc(stamp: dt.datetime) -> dt.datetime:
    """A time without a zone is UTC, as ``ganrepro evaluate`` writes it."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
