"""Publishing a build's report: the one way files get into reports/published/, the committed tree (and the
same staged copy of a build's report to reports/{table}.md, :func:`copy_report`).

A report committed where the workflow writes it is, to Snakemake, an up-to-date output: a fresh clone would
build nothing, and a failed job would delete it.  So the workflow's reports are build products (git-ignored)
and the reports worth keeping are copied to reports/published/{dataset}/{profile}/, which no rule or DVC stage
names.  Only a complete, current build is copied: the report is rendered again from the build's runs (which
refuses a missing run, or one trained with other settings than params/ now define) and must equal the
build's own report and figures byte for byte, so what is published is exactly what the build showed.  The
new files are staged beside the published ones and swapped in, and the old ones are put back if the swap
fails, so a published report is only ever replaced by a complete one.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ganrepro.errors import UserError
from ganrepro.workflow.plan import Plan

#: Image links of a markdown report, ``![alt](path)``.
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Published:
    report: Path
    figures: Path
    files: int  # markdown + figures
    changed: bool  # False when the published files already held exactly these bytes


def publish(plan: Plan, table: str) -> Published:
    """Copy the build of ``table`` on the plan's dataset and profile to reports/published/."""
    from ganrepro.reporting import build_report

    target, target_figures = Path(plan.published_report(table)), Path(plan.published_figures_dir(table))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{table}.", suffix=".staging", dir=target.parent))
    try:
        staged, staged_figures = staging / target.name, staging / target_figures.name
        try:
            result = build_report(plan, table, [staged], staged_figures)
        except UserError as err:
            raise UserError(f"not published, the build is incomplete: {err}") from None
        relative = [path.relative_to(staging) for path in result.files]
        _same_as_build(plan, table, staging, relative)
        _links_resolve(staged)
        if all(_same_bytes(staging / rel, target.parent / rel) for rel in relative) and _names(
            target_figures
        ) == _names(staged_figures):
            return Published(target, target_figures, len(relative), changed=False)
        _swap(staged, staged_figures, target, target_figures, staging / "previous")
        return Published(target, target_figures, len(relative), changed=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def copy_report(report: Path, figures: Path, target: Path, target_figures: Path) -> int:
    """Copy a rendered report and its figures folder to ``target`` and ``target_figures``; the number of files.

    The build's report is rendered once and copied as it is (``reports/{table}.md`` beside ``reports/{table}/``
    keeps the build's layout, so its relative figure links stay right), staged and swapped in like a
    published report, so a reader sees the old complete copy or the new one.  Hidden files (Snakemake's
    directory marker) are not figures and stay behind."""
    if target_figures.name != figures.name:
        raise UserError(
            f"--figures {target_figures} must be named {figures.name} like the build's figures "
            f"folder, or the copy's links would not resolve"
        )
    missing = [str(p) for p in (report, figures) if not p.exists()]
    if missing:
        raise UserError(f"cannot copy the report: {', '.join(missing)} missing; build the report first")
    sources = [report, *(p for p in sorted(figures.glob("*")) if p.is_file() and not p.name.startswith("."))]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.stem}.", suffix=".staging", dir=target.parent))
    try:
        staged, staged_figures = staging / target.name, staging / target_figures.name
        staged_figures.mkdir()
        shutil.copyfile(report, staged)
        for source in sources[1:]:
            shutil.copyfile(source, staged_figures / source.name)
        _links_resolve(staged)
        _swap(staged, staged_figures, target, target_figures, staging / "previous")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(sources)


def _same_as_build(plan: Plan, table: str, staging: Path, relative: list[Path]) -> None:
    """Every staged file must equal the build's file of the same name (same layout under reports/)."""
    from ganrepro.reporting.render import regenerate_command

    build = Path(plan.report_copy(table)).parent
    for rel in relative:
        built = build / rel
        if not built.is_file():
            raise UserError(
                f"not published: {built} is missing; build the table first with `{regenerate_command(plan, table)}`"
            )
        if built.read_bytes() != (staging / rel).read_bytes():
            raise UserError(
                f"not published: {built} is not what the build's runs give now (a partial or "
                f"out-of-date build); rebuild it with `{regenerate_command(plan, table)}`"
            )


def _links_resolve(report: Path) -> None:
    """Every image the report shows must exist relative to it (guards the layout the swap relies on)."""
    missing = [link for link in IMAGE_LINK.findall(report.read_text()) if not (report.parent / link).is_file()]
    if missing:
        raise UserError(f"not published: the report links to missing figure(s) {', '.join(missing)}")


def _same_bytes(a: Path, b: Path) -> bool:
    return b.is_file() and a.read_bytes() == b.read_bytes()


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _swap(staged: Path, staged_figures: Path, target: Path, target_figures: Path, previous: Path) -> None:
    """Replace the published figures folder and report by the staged ones; on any failure put the old
    ones back, so readers see the old complete report or the new complete report.  (The staged files
    already have ordinary permissions: the report writer sets them.)"""
    had_figures = target_figures.exists()
    if had_figures:
        os.rename(target_figures, previous)
    try:
        os.rename(staged_figures, target_figures)
        try:
            os.replace(staged, target)
        except BaseException:
            os.rename(target_figures, staged_figures)
            raise
    except BaseException:
        if had_figures:
            os.rename(previous, target_figures)
        raise
