"""``ganrepro report`` on fake run directories of a tiny table: numbers, paper columns, warnings, figures,
idempotent writes and relative links."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganrepro.cli import main
from ganrepro.config import dump_yaml
from ganrepro.errors import UserError
from ganrepro.metrics import per_image
from ganrepro.metrics.confusion import scores_from_confusion
from ganrepro.reporting import build_report
from ganrepro.reporting.aggregate import ordering, spearman, summarize
from ganrepro.reporting.collect import Measure
from ganrepro.reporting.figures import Column, sample_names
from ganrepro.runfiles import read_losses
from ganrepro.workflow.plan import Plan

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params"
TABLE = "tiny"
HASH = "ab" * 32
FID_REASON = "FID/KID need Inception weights, not found at /nowhere/pt_inception.pth"

TABLE_YAML = """
table: tiny
title: Tiny ablations
model: pix2pix
base_config: params/pix2pix.yaml
citation: "Someone, Else. A Paper. 2017"
paper_columns: [pixel_acc, class_acc, class_iou]
paper_setting: "toy labels→photo"
rows:
  l1:   {label: "L1",      set: {pix2pix.gan: none}}
  full: {label: "L1+cGAN", set: {}}
  lam:  {label: "λ = 1",   set: {pix2pix.lambda_l1: 1}}
sections:
  - id: losses
    title: "Loss ablation"
    source: "Paper Table 1"
    ground_truth: [0.80, 0.26, 0.21]
    rows:
      - {row: l1,   paper: [0.42, 0.15, 0.11]}
      - {row: full, paper: [0.66, 0.23, 0.17]}
    claims:
      - {best: full, metric: pixel_acc, source: "Paper Table 1"}
  - id: weight
    title: "L1 weight"
    source: "not in the paper"
    ground_truth: null
    contrast: [lam, full]
    rows:
      - {row: lam,  paper: null}
      - {row: full, label: "λ = 100 (paper)", paper: null}
    claims:
      - {better: lam, worse: full, metric: pixel_acc, source: "Paper §3"}
      - {better: full, worse: lam, metric: ssim, source: "Paper §4"}
"""

PROFILE_YAML = """
description: "{description}"
replication: {replication}
seeds: {seeds}
device: cpu
threads: 1
gpus_per_job: 0
segmenter: {{arch: lraspp_mobilenet_v3_large, epochs: 1}}
metrics: [fcn, fid, kid, ssim, psnr]
config: {{data.load_size: 36, data.crop_size: 32, train.n_epochs: 1, train.n_epochs_decay: 2}}
"""

#: per-pixel accuracy by (row, seed): that of the summed confusion matrices of the 4 test images
PIXEL = {("l1", 0): 0.40, ("l1", 1): 0.50, ("full", 0): 0.60, ("full", 1): 0.70, ("lam", 0): 0.30, ("lam", 1): 0.30}
NAMES = ["1", "2", "3", "10"]
#: per-image offsets of the class-0 and class-1 diagonals (each sums to 0 over the images) and of SSIM
OFFSET_0, OFFSET_1, OFFSET_SSIM = (6, -6, 3, -3), (-2, 4, -4, 2), (0.02, -0.02, 0.01, -0.01)


def confusions(pixel: float) -> np.ndarray:
    """Two classes, 60 + 40 labelled pixels per image: the summed matrix is [[240p, .], [., 160p]], so both the
    per-pixel and the per-class accuracy are p, and the images differ by the offsets."""
    a, b = round(60 * pixel), round(40 * pixel)
    return np.array([[[a + e, 60 - a - e], [40 - b - f, b + f]] for e, f in zip(OFFSET_0, OFFSET_1)], dtype=np.int64)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A params folder with the tiny table and two profiles; the working directory is its parent."""
    params = tmp_path / "params"
    (params / "tables").mkdir(parents=True)
    (params / "profiles").mkdir()
    shutil.copy(REPO_PARAMS / "pix2pix.yaml", params / "pix2pix.yaml")
    (params / "tables" / f"{TABLE}.yaml").write_text(TABLE_YAML)
    (params / "profiles" / "small.yaml").write_text(
        PROFILE_YAML.format(description="tiny test profile", replication="false", seeds="[0, 1]")
    )
    (params / "profiles" / "full.yaml").write_text(
        PROFILE_YAML.format(description="a replication profile", replication="true", seeds="[0]")
    )
    monkeypatch.setenv("GANREPRO_PARAMS", str(params))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def make_run(
    plan: Plan,
    row: str,
    seed: int,
    data_hash: str = HASH,
    commit: str = "c0ffee" * 6 + "abcd",
    time: str | None = "2024-05-01T10:00:00+00:00",
    stats: bool = True,
) -> Path:
    """A finished, evaluated run as the pipeline leaves it: config, provenance, losses, eval images, metrics."""
    run_dir = Path(plan.run_dir(TABLE, row, seed))
    run_dir.mkdir(parents=True, exist_ok=True)
    config = plan.config(TABLE, row, seed)
    (run_dir / "config.yaml").write_text(dump_yaml(config))
    (run_dir / "provenance.json").write_text(
        json.dumps(
            {"invocations": [{"time": "2024-04-01T08:00:00+00:00", "git_commit": commit, "data_hash": data_hash}]}
        )
    )
    losses = ["G_L1"] if row == "l1" else ["G_GAN", "G_L1", "D_real", "D_fake"]
    lines = [",".join(["step", "epoch", "iter", "lr", "seconds", *losses])]
    lines += [
        ",".join([str(s), "1", str(s), "0.0002", "0.1", *(f"{1 + 1 / s:.4f}" for _ in losses)]) for s in range(1, 121)
    ]
    (run_dir / "losses.csv").write_text("\n".join(lines) + "\n")
    eval_dir = Path(plan.metrics_json(TABLE, row, seed)).parent
    for index, name in enumerate(NAMES):
        for folder in ("inputs", "images", "real"):
            write_png(eval_dir / folder / f"{name}.png", seed * 100 + index)
    matrices, truth = confusions(PIXEL[(row, seed)]), confusions(0.9)
    ssim = 0.5 + seed / 10 + np.array(OFFSET_SSIM)
    fcn = {**scores_from_confusion(matrices.sum(0)), "ground_truth": scores_from_confusion(truth.sum(0))}
    doc = {
        "format": "ganrepro-metrics/1",
        "ganrepro": "0.1.0",
        "run": {"config_digest": config.digest(), "checkpoint_sha256": f"{seed:02d}" * 32, "step": 120, "epoch": 3},
        "data": {"data_hash": data_hash},
        "metrics": {
            "fcn": fcn,
            "fid": {"available": False, "reason": FID_REASON},
            "kid": {"available": False, "reason": FID_REASON},
            "ssim": {"value": float(ssim.mean()), "value_y": 0.9},
            "psnr": {"value": 20.0},
        },
    }
    if stats:  # as `ganrepro evaluate` keeps them; older evaluations have none
        doc["per_image"] = per_image.write(
            eval_dir,
            {"names": NAMES, "fcn_confusion": matrices, "fcn_gt_names": NAMES, "fcn_gt_confusion": truth, "ssim": ssim},
        )
    if time:
        doc["time"] = time
    (eval_dir / "metrics.json").write_text(json.dumps(doc))
    return run_dir


def make_all(plan: Plan) -> None:
    for row, seed in plan.runs(TABLE):
        make_run(plan, row, seed)


def report(plan: Plan, *outs: str, figures: str = "reports/figs") -> list[Path]:
    return build_report(plan, TABLE, [Path(o) for o in outs], Path(figures)).files


def intervals(line: str) -> list[tuple[float, float]]:
    """The [low, high] intervals of a table line, in column order."""
    return [(float(a), float(b)) for a, b in re.findall(r"\[(-?[0-9.]+), (-?[0-9.]+)\]", line)]


def table_line(text: str, section: str, label: str) -> str:
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return next(line for line in body.splitlines() if line.startswith(f"| {label} |"))


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


def add_features(plan: Plan, row: str, seed: int) -> None:
    """Give a run FID and KID as `ganrepro evaluate` records them with Inception weights (3-d features here)."""
    from ganrepro.metrics.fid import frechet_distance_of_features, kid

    eval_dir = Path(plan.metrics_json(TABLE, row, seed)).parent
    doc = json.loads((eval_dir / "metrics.json").read_text())
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(len(NAMES), 3)).astype(np.float32).astype(np.float64)  # float32 as stored
    fake = (real + 1.0 + rng.normal(size=real.shape)).astype(np.float32).astype(np.float64)
    doc["metrics"]["fid"] = {"value": frechet_distance_of_features(real, fake)[0]}
    doc["metrics"]["kid"] = {"mean": kid(real, fake, n_subsets=3)["mean"]}
    arrays = per_image.read(eval_dir, doc["per_image"])
    doc["per_image"] = per_image.write(eval_dir, {**arrays, "fid_real_features": real, "fid_fake_features": fake})
    (eval_dir / "metrics.json").write_text(json.dumps(doc))


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


def test_warning_names_the_resolution_only_when_it_is_below_the_papers() -> None:
    from ganrepro.reporting.render import _what_differs

    assert _what_differs([64, 32]) == "images this small and schedules this short change"
    assert _what_differs([256]) == "a schedule this short changes"  # gpu-short: the papers' resolution
