"""``ganrepro report`` on fake run directories of a tiny table: numbers, paper columns, warnings, figures,
idempotent writes and relative links."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from PIL import Image
from report_helpers import (
    FID_REASON,
    HASH,
    TABLE,
    intervals,
    make_all,
    make_run,
    project,  # noqa: F401  (the fixture)
    report,
    table_line,
)

from ganrepro.cli import main
from ganrepro.errors import UserError
from ganrepro.reporting.aggregate import ordering, spearman, summarize
from ganrepro.reporting.collect import Measure
from ganrepro.reporting.figures import Column, sample_names
from ganrepro.runfiles import read_losses
from ganrepro.workflow.plan import Plan


def test_mean_std_paper_numbers_and_orderings(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    report(plan, "reports/tiny.md")
    text = Path("reports/tiny.md").read_text()
    l1 = table_line(text, "Loss ablation", "L1")
    # sample std over 2 seeds; IoU (96/336 + 64/304)/2 and (120/320 + 80/280)/2 by seed
    assert "| 0.450 ± 0.071 [" in l1 and "| 0.289 ± 0.058 [" in l1
    # a replicate is a mean of seed values 0.40/0.50 drawn with replacement (0.40, 0.45 or 0.50), moved by at
    # most 16/400 by the image resample (per-image diagonal offsets 4, -2, -1, -1 of 100 pixels)
    low, high = intervals(l1)[0]
    assert 0.36 <= low < 0.45 < high <= 0.54 and low <= 0.40 and high >= 0.50
    assert l1.endswith("| 0.42 | 0.15 | 0.11 |")
    assert table_line(text, "Loss ablation", "L1+cGAN").endswith("| 0.66 | 0.23 | 0.17 |")
    assert "| 0.650 ± 0.071 [" in table_line(text, "Loss ablation", "L1+cGAN")
    truth = table_line(text, "Loss ablation", "Ground truth (real photos)")
    assert truth.startswith("| Ground truth (real photos) | 0.900 [") and truth.endswith(
        "| — | — | — | 0.80 | 0.26 | 0.21 |"
    )
    weight = table_line(text, "L1 weight", "λ = 100 (paper)")
    assert "0.650 ± 0.071 [" in weight and weight.endswith("| — | — | — |")
    assert "| 0.300 ± 0.000 [" in table_line(text, "L1 weight", "λ = 1")
    low, high = intervals(l1)[3]  # SSIM: seed values 0.5 / 0.6, per-image offsets of at most 0.02
    assert 0.48 <= low <= 0.50 and 0.60 <= high <= 0.62
    assert "ours L1+cGAN > L1; paper L1+cGAN > L1; Spearman rank correlation 1.000" in text
    assert "`snakemake --cores N reports/tiny.md --config dataset=synthetic profile=small`" in text
    assert "Seeds:** 0, 1 (n = 2" in text and "32×32" in text and "3 (1 constant + 2 decaying)" in text
    assert f"`{HASH}` (all runs agree)" in text and "2024-05-01T10:00:00+00:00" in text
    assert "| full | 1 | `results/synthetic/small/tiny/full/seed1` |" in text
    # each seed's own interval over the test images: 0.70 moved by at most 16/400 by the image resample
    run_line = next(line for line in text.splitlines() if line.startswith("| full | 1 |"))
    assert run_line.endswith("|") and "| 0.700 [" in run_line
    assert 0.66 <= intervals(run_line)[0][0] < 0.70 < intervals(run_line)[0][1] <= 0.74


def test_unavailable_metric_is_na_with_one_footnote(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    report(plan, "reports/tiny.md")
    text = Path("reports/tiny.md").read_text()
    assert "| n/a[^1] | n/a[^1] |" in table_line(text, "Loss ablation", "L1")
    assert text.count(f"[^1]: {FID_REASON}") == 1 and "[^2]" not in text


def test_non_replication_warning_only_for_replication_false(project: Path) -> None:
    small, full = Plan("synthetic", "small"), Plan("synthetic", "full")
    make_all(small)
    make_all(full)
    report(small, "reports/small.md")
    report(full, "reports/full.md", figures="reports/full")
    assert "NOT A REPLICATION" in Path("reports/small.md").read_text()
    text = Path("reports/full.md").read_text()
    assert "NOT A REPLICATION" not in text
    one = table_line(text, "Loss ablation", "L1")
    assert "| 0.400 [" in one and "±" not in one  # one seed: no std, the interval over test images alone
    assert 0.36 <= intervals(one)[0][0] < 0.40 < intervals(one)[0][1] <= 0.44


def test_missing_metrics_names_the_row_and_writes_nothing(project: Path, capsys: pytest.CaptureFixture) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    missing = Path(plan.metrics_json(TABLE, "lam", 1))
    missing.unlink()
    with pytest.raises(UserError, match=r"row 'lam' \(λ = 1\), seed 1") as err:
        report(plan, "reports/tiny.md")
    assert str(missing) in str(err.value)
    args = [
        "report",
        TABLE,
        "--dataset",
        "synthetic",
        "--profile",
        "small",
        "--out",
        "reports/tiny.md",
        "--figures",
        "reports/figs",
    ]
    assert main(args) == 2
    assert "lam" in capsys.readouterr().err
    assert not Path("reports").exists()


def test_figures_named_by_plan_and_samples_in_natural_order(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    files = report(plan, "reports/tiny.md", figures="reports/synthetic/small/tiny")
    expected = [Path(p) for p in plan.figures(TABLE)]
    assert [p.name for p in expected] == [
        "losses_samples.png",
        "losses_losses.png",
        "weight_samples.png",
        "weight_losses.png",
    ]
    for path in expected:
        assert path in files
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 100
    eval_dir = Path(plan.metrics_json(TABLE, "l1", 0)).parent
    assert sample_names([Column("L1", eval_dir)]) == ["1", "2", "3"]
    assert list(read_losses(Path(plan.run_dir(TABLE, "l1", 0)) / "losses.csv")) == ["step", "G_L1"]


def test_second_run_touches_nothing(project: Path, capsys: pytest.CaptureFixture) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    args = [
        "report",
        TABLE,
        "--dataset",
        "synthetic",
        "--profile",
        "small",
        "--out",
        "reports/tiny.md",
        "--out",
        "reports/synthetic/small/tiny.md",
        "--figures",
        "reports/synthetic/small/tiny",
    ]
    assert main(args) == 0
    files = sorted(p for p in Path("reports").rglob("*") if p.is_file())
    assert len(files) == 6
    for path in files:
        os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    assert main(args) == 0
    assert "0 file(s) written, 6 unchanged" in capsys.readouterr().out
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before
    assert sorted(p for p in Path("reports").rglob("*") if p.is_file()) == files


def test_links_are_relative_and_resolve_from_each_out(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    outs = ["reports/tiny.md", "reports/synthetic/small/tiny.md"]
    report(plan, *outs, figures="reports/synthetic/small/tiny")
    for out in map(Path, outs):
        links = re.findall(r"!\[[^\]]*\]\(<?([^)>]+)>?\)", out.read_text())
        assert len(links) == 4
        for link in links:
            assert not os.path.isabs(link) and (out.parent / link).is_file()
    assert "](tiny/losses_samples.png)" in Path(outs[1]).read_text()


def test_disagreeing_data_and_commits_are_reported(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    make_run(plan, "lam", 1, data_hash="cd" * 32, commit="1234" * 10, time="2024-06-02T00:00:00+00:00")
    report(plan, "reports/tiny.md")
    text = Path("reports/tiny.md").read_text()
    assert "THE RUNS DO NOT AGREE ON THE DATA" in text and f"`{'cd' * 32}`: lam/seed1" in text
    assert "Code commits (runs used different ones)" in text and f"`{'1234' * 10}` (lam/seed1)" in text
    assert "2024-06-02T00:00:00+00:00" in text  # the newest evaluation, not the clock


def test_run_with_another_config_is_refused(project: Path) -> None:
    plan = Plan("synthetic", "small")
    make_all(plan)
    config = Path(plan.run_dir(TABLE, "full", 0)) / "config.yaml"
    config.write_text(config.read_text().replace("lambda_l1: 100.0", "lambda_l1: 7.0"))
    with pytest.raises(UserError, match="pix2pix.lambda_l1"):
        report(plan, "reports/tiny.md")


def test_aggregate_helpers() -> None:
    partial = summarize([Measure(0.5), Measure(None, "gone"), Measure(None, "gone")])
    assert (partial.mean, partial.std, partial.n, partial.total, partial.reasons) == (0.5, None, 1, 3, ("gone",))
    assert ordering(["a", "b", "c"], [0.2, 0.5, 0.2]) == "b > a = c"
    assert spearman([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert spearman([1.0, 1.0], [1.0, 2.0]) is None


def test_warning_names_the_resolution_only_when_it_is_below_the_papers() -> None:
    from ganrepro.reporting.render import _what_differs

    assert _what_differs([64, 32]) == "images this small and schedules this short change"
    assert _what_differs([256]) == "a schedule this short changes"  # gpu-short: the papers' resolution
