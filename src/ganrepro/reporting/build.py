"""One report build: collect the runs, render figures and markdown, write what changed.

Everything is rendered in memory first, so a missing or inconsistent run fails before any file is touched,
and each file is then replaced only if its bytes differ (see :mod:`.output`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ganrepro.errors import UserError
from ganrepro.reporting.certainty import Certainty
from ganrepro.reporting.collect import RunRecord, collect_runs
from ganrepro.reporting.facts import gather
from ganrepro.reporting.figures import (
    Column,
    Series,
    losses_png,
    sample_names,
    samples_png,
)
from ganrepro.reporting.output import write_if_changed
from ganrepro.reporting.released import collect_released
from ganrepro.reporting.render import ReportInput, render_markdown
from ganrepro.runfiles import read_losses
from ganrepro.workflow.plan import Plan

KINDS = ("samples", "losses")


@dataclass(frozen=True)
class ReportResult:
    files: list[Path]  # every file of the report: the markdown copies, then the figures
    written: list[Path]  # those whose bytes changed


def build_report(plan: Plan, table: str, outs: Sequence[Path], figures_dir: Path) -> ReportResult:
    """Write the report of ``table`` to every path in ``outs`` and its figures into ``figures_dir``."""
    outs = [Path(o) for o in outs]
    if not outs:
        raise UserError("give at least one --out")
    for out in outs:
        if out.is_dir():
            raise UserError(f"--out {out} is a directory; give the markdown file's path")
    if len({os.path.abspath(o) for o in outs}) != len(outs):
        raise UserError("the same --out path is given twice")
    runs = collect_runs(plan, table)
    figures = render_figures(plan, table, runs, Path(figures_dir))
    data = ReportInput(plan, table, runs, gather(runs), Certainty(plan, table, runs), collect_released(plan, table))
    documents = {out: render_markdown(data, _links(out, figures)).encode("utf-8") for out in outs}
    files: dict[Path, bytes] = {**documents, **{path: png for path, (_, _, png) in figures.items()}}
    written = [path for path, content in files.items() if write_if_changed(path, content)]
    return ReportResult(list(files), written)


def figure_targets(plan: Plan, table: str, figures_dir: Path) -> dict[tuple[str, str], Path]:
    """(section id, kind) -> the figure's path in ``figures_dir``, named as :meth:`Plan.figures` names it."""
    sections = {s.id for s in plan.table(table).sections}
    targets: dict[tuple[str, str], Path] = {}
    for planned in plan.figures(table):
        name = Path(planned).name
        section, _, kind = Path(planned).stem.rpartition("_")
        if section not in sections or kind not in KINDS:
            raise UserError(f"Plan.figures names {name!r}, which is not SECTION_KIND for table {table}")
        targets[(section, kind)] = figures_dir / name
    return targets


def render_figures(
    plan: Plan, table: str, runs: Sequence[RunRecord], figures_dir: Path
) -> dict[Path, tuple[str, str, bytes]]:
    """{figure path: (section id, kind, PNG bytes)}; each section's rows at the first seed."""
    spec = plan.table(table)
    first_seed = plan.profile.seeds[0]
    first = {r.row: r for r in runs if r.seed == first_seed}
    losses: dict[str, dict[str, list[float]]] = {}
    out: dict[Path, tuple[str, str, bytes]] = {}
    for (section_id, kind), path in figure_targets(plan, table, figures_dir).items():
        section = next(s for s in spec.sections if s.id == section_id)
        if kind == "samples":
            columns = [
                Column(e.label, first[e.row].reverse_dir if e.direction == "reverse" else first[e.row].eval_dir)
                for e in section.rows
            ]  # a reverse row shows its second generator's outputs
            png = samples_png(section.title, columns, sample_names(columns))
        else:
            for e in section.rows:
                if e.row not in losses:
                    losses[e.row] = read_losses(first[e.row].losses_csv)
            png = losses_png(section.title, [Series(e.label, losses[e.row]) for e in section.rows])
        out[path] = (section_id, kind, png)
    return out


def _links(out: Path, figures: dict[Path, tuple[str, str, bytes]]) -> dict[str, dict[str, str]]:
    """Each figure's path relative to the folder of ``out``, with forward slashes (markdown links)."""
    base = os.path.abspath(out.parent)
    links: dict[str, dict[str, str]] = {}
    for path, (section, kind, _) in figures.items():
        links.setdefault(section, {})[kind] = Path(os.path.relpath(os.path.abspath(path), base)).as_posix()
    return links
