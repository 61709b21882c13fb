"""How sure a report's numbers are: the paper orderings' verdicts, paired contrasts, per-image bootstrap intervals
(FID/KID from stored features included), and evaluations without per-image statistics."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from report_helpers import (  # project: the fixture
    NAMES,
    TABLE,
    add_features,
    intervals,
    make_all,
    make_run,
    project,  # noqa: F401
    report,
    table_line,
)

from ganrepro.errors import UserError
from ganrepro.workflow.plan import Plan


def test_claims_get_verdicts_and_the_header_counts_them(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    report(plan, "reports/tiny.md")
    text = Path("reports/tiny.md").read_text()
    assert (
        "- **Paper orderings:** 1 of 3 paper orderings reproduced, 1 reversed, 1 unresolved at 95% confidence" in text
    )
    # rows share the per-image offsets, so paired differences move with the seed draws only: L1+cGAN − L1 is
    # a difference of seed means (0.60/0.65/0.70 − 0.40/0.45/0.50), never below 0.1
    assert (
        "- **reproduced**: L1+cGAN best on per-pixel acc.: vs L1 +0.200 [+0.100, +0.300]. Source: Paper Table 1."
    ) in text
    assert (
        "- **reversed**: λ = 1 > λ = 100 (paper) on per-pixel acc.: -0.350 [-0.400, -0.300]. Source: Paper §3." in text
    )
    # SSIM is 0.5 / 0.6 by seed in every row: the difference is 0 and either row may come out ahead
    assert (
        "- **not resolved at 95%**: λ = 100 (paper) > λ = 1 on SSIM: +0.000 [-0.100, +0.100]. Source: Paper §4." in text
    )
    assert "## How sure these numbers are" in text and "1000 bootstrap replicates" in text


def test_a_contrast_gives_the_paired_difference_beside_the_seed_spread(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    report(plan, "reports/tiny.md")
    text = Path("reports/tiny.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith("Difference λ = 1 − λ = 100 (paper)"))
    assert "the interval excludes 0 for 3 of 3 metrics" in line
    # seed means 0.30 vs 0.65; seed draws give 0.30 − {0.60, 0.65, 0.70}; L1+cGAN's seeds differ by 0.10
    assert "per-pixel acc. -0.350 [-0.400, -0.300]; seed std up to 0.071" in line
    assert (
        "## Loss ablation" in text and "Difference" not in text.split("## Loss ablation", 1)[1].split("## L1 weight")[0]
    )


def test_old_metrics_without_per_image_statistics_render_without_intervals(project: Path) -> None:
    plan = Plan("synthetic", "small")
    for row, seed in plan.runs(TABLE):
        make_run(plan, row, seed, stats=(row, seed) != ("l1", 1))
    report(plan, "reports/tiny.md")
    text = Path("reports/tiny.md").read_text()
    l1 = table_line(text, "Loss ablation", "L1")
    assert l1.startswith("| L1 | 0.450 ± 0.071 [no interval][^1] |") and "0.550 ± 0.071 [no interval][^1]" in l1
    assert "| n/a[^2] | n/a[^2] |" in l1  # FID and KID: the missing weights, numbered after the first reason
    assert "| 0.650 ± 0.071 [" in table_line(text, "Loss ablation", "L1+cGAN")  # rows with statistics keep theirs
    assert text.count("[^1]: no per-image statistics recorded in metrics.json") == 1
    assert "0 of 3 paper orderings reproduced, 1 reversed, 1 unresolved, 1 not assessed" in text
    assert "- **not assessed**: L1+cGAN best on per-pixel acc.: vs L1 +0.200 [no interval][^1]." in text


def test_rerendering_gives_identical_bytes(project: Path) -> None:
    make_all(Plan("synthetic", "small"))
    report(Plan("synthetic", "small"), "reports/tiny.md")
    first = Path("reports/tiny.md").read_bytes()
    Path("reports/tiny.md").unlink()
    report(Plan("synthetic", "small"), "reports/tiny.md")
    assert Path("reports/tiny.md").read_bytes() == first and b"[no interval]" not in first


def test_an_altered_per_image_file_is_refused(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    path = Path(plan.metrics_json(TABLE, "lam", 1)).parent / "per_image.npz"
    np.savez(path, names=np.array(NAMES))
    with pytest.raises(UserError, match=r"lam/seed1: .*per_image.npz is not the file this evaluation wrote"):
        report(plan, "reports/tiny.md")


def test_fid_and_kid_cells_get_intervals_from_the_features(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    for row, seed in plan.runs(TABLE):
        add_features(plan, row, seed)
    report(plan, "reports/tiny.md")
    line = table_line(Path("reports/tiny.md").read_text(), "Loss ablation", "L1")
    fid, kid = [cell.strip() for cell in line.split("|")[5:7]]
    assert re.fullmatch(r"-?[0-9.]+ ± [0-9.]+ \[-?[0-9.]+, -?[0-9.]+\]", fid), fid
    assert re.fullmatch(r"-?[0-9.]+ ± [0-9.]+ \[-?[0-9.]+, -?[0-9.]+\]", kid), kid
    assert all(low <= high for low, high in intervals(line))
