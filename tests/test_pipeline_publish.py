"""Publishing: a complete, current build is copied whole to reports/published/; anything else is refused and
the published report is left as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from report_helpers import TABLE, make_all, project  # noqa: F401  (project is a fixture)

from ganrepro.errors import UserError
from ganrepro.reporting import build_report
from ganrepro.workflow import publish as publishing
from ganrepro.workflow.plan import Plan


def published_tree(root: Path, text: str) -> tuple[Path, Path]:
    report, figures = root / "t.md", root / "t"
    figures.mkdir(parents=True)
    (figures / "a_samples.png").write_text(f"figure {text}")
    report.write_text(f"# {text}\n\n![a](t/a_samples.png)\n")
    return report, figures


def test_swap_replaces_report_and_figures_together(tmp_path: Path) -> None:
    target, target_figures = published_tree(tmp_path / "published", "old")
    staged, staged_figures = published_tree(tmp_path / "staging", "new")
    publishing._swap(staged, staged_figures, target, target_figures, tmp_path / "staging" / "previous")
    assert target.read_text().startswith("# new") and (target_figures / "a_samples.png").read_text() == "figure new"


def test_a_failed_swap_puts_the_old_report_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, target_figures = published_tree(tmp_path / "published", "old")
    staged, staged_figures = published_tree(tmp_path / "staging", "new")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        publishing._swap(staged, staged_figures, target, target_figures, tmp_path / "staging" / "previous")
    assert target.read_text().startswith("# old") and (target_figures / "a_samples.png").read_text() == "figure old"
    assert staged_figures.is_dir()  # the staged copy is left for the caller to remove


def test_a_report_linking_a_missing_figure_is_not_published(tmp_path: Path) -> None:
    report, figures = published_tree(tmp_path, "x")
    publishing._links_resolve(report)
    (figures / "a_samples.png").unlink()
    with pytest.raises(UserError, match="missing figure.*t/a_samples.png"):
        publishing._links_resolve(report)


# --------------------------------------------------------------------------- publishing a fabricated build


@pytest.fixture
def built(project: Path) -> Plan:
    """The tiny table of test_report built as the workflow's report job leaves it (both report copies)."""
    plan = Plan("synthetic", "small")
    make_all(plan)
    build_report(plan, TABLE, [Path(plan.report_copy(TABLE)), Path(plan.report(TABLE))], Path(plan.figures_dir(TABLE)))
    return plan


def test_publish_copies_the_build_and_refuses_a_damaged_or_partial_one(built: Plan) -> None:
    plan = built
    done = publishing.publish(plan, TABLE)
    assert done.changed and done.report == Path("reports/published/synthetic/small/tiny.md")
    assert done.report.read_bytes() == Path(plan.report_copy(TABLE)).read_bytes()
    figures = sorted(p.name for p in Path(plan.figures_dir(TABLE)).iterdir())
    assert figures and sorted(p.name for p in done.figures.iterdir()) == figures
    publishing._links_resolve(done.report)
    assert not publishing.publish(plan, TABLE).changed
    published = {p: p.read_bytes() for p in Path("reports/published").rglob("*") if p.is_file()}

    figure = Path(plan.figures_dir(TABLE)) / figures[0]
    figure.write_bytes(figure.read_bytes()[:50])
    with pytest.raises(UserError, match="not published: .* is not what the build's runs give now"):
        publishing.publish(plan, TABLE)
    Path(plan.metrics_json(TABLE, "lam", 1)).unlink()
    with pytest.raises(UserError, match="not published, the build is incomplete: .*lam"):
        publishing.publish(plan, TABLE)
    assert {p: p.read_bytes() for p in Path("reports/published").rglob("*") if p.is_file()} == published


def test_publish_refuses_a_table_never_built(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    with pytest.raises(UserError, match="tiny.md is missing; build the table first with `snakemake"):
        publishing.publish(plan, TABLE)
    assert not list(Path("reports/published").rglob("*.md"))


def test_copy_report_writes_the_same_bytes_beside_a_figures_folder_of_the_same_name(tmp_path: Path) -> None:
    """reports/{table}.md is the build's report copied as it is, figures included, hidden files left behind;
    a target whose figures folder has another name (broken links) or a missing source is refused."""
    report, figures = published_tree(tmp_path / "build" / "synthetic" / "smoke", "build")
    (figures / ".snakemake_timestamp").write_text("")
    old_report, _ = published_tree(tmp_path / "reports", "old")
    (tmp_path / "reports" / "t" / "stale.png").write_text("a figure of another build")
    assert publishing.copy_report(report, figures, old_report, tmp_path / "reports" / "t") == 2
    assert old_report.read_bytes() == report.read_bytes()
    assert sorted(p.name for p in (tmp_path / "reports" / "t").iterdir()) == ["a_samples.png"]
    assert not [p for p in (tmp_path / "reports").iterdir() if p.name.startswith(".")]  # no staging left
    with pytest.raises(UserError, match="must be named t"):
        publishing.copy_report(report, figures, tmp_path / "x.md", tmp_path / "x")
    with pytest.raises(UserError, match="missing; build the report first"):
        publishing.copy_report(tmp_path / "none.md", figures, old_report, tmp_path / "reports" / "t")
