"""The authors' released models of a table build, read and checked like the runs, and their report text.

A released model's row must be the model the params name, scored by the same evaluation as the rows: so its
metrics file must score the run directory's config, that config must be the one the Plan imports now, and
the imported file's sha256 (from ``provenance.json``) must equal the published one where one is given.  Any
mismatch is a :class:`~ganrepro.errors.UserError` naming the file; a report never shows a stale or foreign
checkpoint under the authors' name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganrepro.config import ConfigError, load_config
from ganrepro.errors import UserError
from ganrepro.reporting.collect import IGNORED_CONFIG_KEYS, Measure, read_document, read_ground_truth, read_measures
from ganrepro.runfiles import CONFIG_FILE, METRICS_FORMAT, PROVENANCE_FILE, differing_keys
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.released import Released, Skipped

SHORT = 12


@dataclass(frozen=True)
class ReleasedRecord:
    """What the report shows of one released model: its scores and where its weights came from."""

    entry: Released
    run_dir: Path
    measures: dict[str, Measure]
    ground_truth: dict[str, Measure]
    sha256: str
    source: str
    data_hash: str | None

    @property
    def verification(self) -> str:
        if self.entry.sha256:
            return "equal to the sha256 published in the table's params"
        return "no sha256 is published: pinned at the first verified fetch, later fetches must match it"


def collect_released(plan: Plan, table: str) -> list[ReleasedRecord]:
    """Every released model the build evaluates for ``table``, in section order."""
    return [read_released(plan, entry) for entry in plan.released.for_table(table)]


def read_released(plan: Plan, entry: Released) -> ReleasedRecord:
    released = plan.released
    run_dir = Path(released.run_dir(entry.id))
    where = f"released model {entry.id!r} ({entry.label})"
    metrics_path = Path(released.metrics_json(entry.id))
    doc = read_document(metrics_path, where, "metrics file (written by `ganrepro evaluate`)")
    if doc.get("format") != METRICS_FORMAT:
        raise UserError(f"{metrics_path} ({where}) has format {doc.get('format')!r}, expected {METRICS_FORMAT!r}")
    try:
        config = load_config(run_dir / CONFIG_FILE)
    except (ConfigError, FileNotFoundError, OSError) as err:
        raise UserError(f"{where}: cannot read {run_dir / CONFIG_FILE}: {err}") from None
    differ = [
        k for k in differing_keys(config.to_dict(), released.config(entry.id).to_dict()) if k not in IGNORED_CONFIG_KEYS
    ]
    if differ:
        raise UserError(
            f"{where}: {run_dir} was imported with another config than the params now give (differs in: "
            f"{', '.join(differ)}); remove it and import again"
        )
    if (doc.get("run") or {}).get("config_digest") != config.digest():
        raise UserError(f"{metrics_path} ({where}) does not score the config in {run_dir}; re-evaluate it")
    imported = _imported(run_dir, where)
    if entry.sha256 and imported["sha256"] != entry.sha256:
        raise UserError(
            f"{run_dir}/provenance.json ({where}) records sha256 {imported['sha256']}, the params "
            f"publish {entry.sha256}; remove {run_dir} and import again"
        )
    try:
        return ReleasedRecord(
            entry,
            run_dir,
            read_measures(doc["metrics"], metrics_path),
            read_ground_truth(doc["metrics"], metrics_path),
            str(imported["sha256"]),
            str(imported.get("source") or entry.source),
            (doc.get("data") or {}).get("data_hash"),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{metrics_path} ({where}) is not a complete metrics file: bad or missing {err}") from None


def _imported(run_dir: Path, where: str) -> dict[str, Any]:
    """The import record of the generator the report scores (G, or G_A of a CycleGAN)."""
    provenance = read_document(run_dir / PROVENANCE_FILE, where, "provenance file")
    for invocation in provenance.get("invocations") or []:
        for record in invocation.get("imported") or []:
            if record.get("net") in ("G", "G_A") and record.get("sha256"):
                return record
    raise UserError(f"{run_dir}/provenance.json ({where}) records no imported generator; not an imported run")


# ------------------------------------------------------------------------------------------------ the text


def row_label(record: ReleasedRecord) -> str:
    """The table cell naming the row: the label, marked as released, with its short sha256."""
    return f"{record.entry.label} — released checkpoint, sha256 `{record.sha256[:SHORT]}`"


def notes_lines(records: list[ReleasedRecord], skipped: list[Skipped], rows_data_hash: str | None) -> list[str]:
    """Below a section's table: each released row's source and hash check, and the models not evaluated."""
    lines = []
    for r in records:
        same_data = (
            ""
            if r.data_hash == rows_data_hash or rows_data_hash is None
            else f" **Evaluated on other data than the rows** (data hash `{(r.data_hash or 'unknown')[:SHORT]}`)."
        )
        lines.append(
            f"Released checkpoint {r.entry.label}: from <{r.source}>, sha256 `{r.sha256}` "
            f"({r.verification}); imported by `ganrepro import-checkpoint --arch {r.entry.arch}` into "
            f"`{r.run_dir.as_posix()}` (not trained here) and evaluated with the rows' command.{same_data}"
        )
    for s in skipped:
        lines.append(f"Released checkpoint {s.entry.label} not evaluated in this build: {s.reason}.")
    return [part for line in lines for part in (line, "")]
