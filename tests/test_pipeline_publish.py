"""Publishing swaps a staged report in whole, or leaves the published one as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ganrepro.errors import UserError
from ganrepro.pipeline import publish as publishing


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
