"""The table constructs of the photo→labels, colour-histogram, FID and baseline tables: section ``metric``,
``direction``, ``not_trained`` rows and rows of another model, checked when loaded and rendered in reports
with intervals from the per-image statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from report_helpers import (  # project: the fixture
    NAMES,
    TABLE,
    TABLE_ROWS_YAML,
    confusions,
    intervals,
    make_run,
    project,  # noqa: F401
    report,
    table_line,
)

from ganrepro.config import ConfigError
from ganrepro.metrics import per_image
from ganrepro.metrics.colorhist import CHANNELS, intersections, split_channels
from ganrepro.metrics.confusion import scores_from_confusion
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.spec import load_table

SECTIONS_YAML = (
    TABLE_ROWS_YAML
    + """title: Tiny tables
sections:
  - id: labels
    title: "Photo to labels"
    source: "Paper Table 5"
    paper_setting: "toy photo→labels"
    metric: labelmap
    ground_truth: null
    rows:
      - {row: l1,   paper: [0.86, 0.42, 0.35]}
      - {row: full, paper: [0.83, 0.36, 0.29]}
    claims:
      - {better: full, worse: l1, metric: pixel_acc, source: "Paper Table 5"}
  - id: colours
    title: "Colour histograms"
    source: "Paper §4.3"
    metric: colorhist
    ground_truth: null
    rows:
      - {row: l1,   paper: [0.81, 0.69, 0.70]}
      - {row: full, paper: [0.86, 0.84, 0.82]}
    claims:
      - {better: full, worse: l1, metric: L, source: "Paper §4.3"}
  - id: fid
    title: "FID"
    source: "released checkpoint"
    metric: fid
    ground_truth: null
    rows:
      - {row: lam, paper: null}
    not_trained:
      - {label: "released checkpoint", paper: [119.1], note: "measured by someone else; not evaluated here"}
"""
)

#: labelmap per-pixel accuracy by (row, seed); colours: L1+cGAN's generated histograms are the real ones, L1's
#: move the first image's pixels 30 bins away (so the intersection depends on how often a resample draws it)
LABELMAP = {("l1", 0): 0.5, ("l1", 1): 0.6, ("full", 0): 0.8, ("full", 1): 0.9, ("lam", 0): 0.4, ("lam", 1): 0.4}
BINS = sum(len(edges) - 1 for _, edges in CHANNELS)


def histograms(moved: bool) -> np.ndarray:
    """(4, BINS) pixel counts: image i puts 10 pixels in bins i .. i+9 of every channel; ``moved`` puts the
    first image's 30 bins further."""
    out = np.zeros((len(NAMES), BINS), dtype=np.int64)
    for index in range(len(NAMES)):
        for start in (0, 101, 358):
            first = start + index + (30 if moved and index == 0 else 0)
            out[index, first : first + 10] = 1
    return out


def add_scores(plan: Plan, row: str, seed: int) -> None:
    """The labelmap and colour-histogram entries ``ganrepro evaluate`` writes, with their per-image arrays."""
    folder = Path(plan.metrics_json(TABLE, row, seed)).parent
    doc = json.loads((folder / "metrics.json").read_text())
    arrays = per_image.read(folder, doc["per_image"])
    matrices = confusions(LABELMAP[(row, seed)])
    real, fake = histograms(False), histograms(row != "full")
    pooled = {
        k: float(v)
        for k, v in zip(
            "Lab",
            (
                intersections(a, b)
                for a, b in zip(split_channels(real.sum(0)).values(), split_channels(fake.sum(0)).values())
            ),
        )
    }
    doc["metrics"]["labelmap"] = scores_from_confusion(matrices.sum(0))
    doc["metrics"]["colorhist"] = pooled
    doc["per_image"] = per_image.write(
        folder, {**arrays, "labelmap_confusion": matrices, "colorhist_real": real, "colorhist_fake": fake}
    )
    (folder / "metrics.json").write_text(json.dumps(doc))


@pytest.fixture
def sections(project: Path) -> Plan:  # noqa: F811
    (project / "params" / "tables" / f"{TABLE}.yaml").write_text(SECTIONS_YAML)
    plan = Plan("synthetic", "small")
    for row, seed in plan.runs(TABLE):
        make_run(plan, row, seed)
        add_scores(plan, row, seed)
    return plan


def test_labelmap_colour_and_fid_sections_render_their_own_columns(sections: Plan) -> None:
    report(sections, "reports/tiny.md")
    text = Path("reports/tiny.md").read_text()
    labels = text.split("## Photo to labels\n", 1)[1].split("\n## ", 1)[0]
    assert "| Row | ours per-pixel acc. | ours per-class acc. | ours class IoU | paper per-pixel acc." in labels
    assert "Ground truth" not in labels and "FID" not in labels  # no segmenter, no photo quality here
    line = table_line(text, "Photo to labels", "L1+cGAN")
    assert line.startswith("| L1+cGAN | 0.850 ± 0.071 [") and line.endswith("| 0.83 | 0.36 | 0.29 |")
    low, high = intervals(line)[0]
    assert low <= 0.85 <= high and high - low > 0  # bootstrapped from labelmap_confusion, not a fixed number
    assert "- **reproduced**: L1+cGAN > L1 on per-pixel acc." in labels  # 0.85 vs 0.55 on every resample
    assert "toy photo→labels" in labels and "decoded to classes by nearest palette colour" in labels
    colours = table_line(text, "Colour histograms", "L1+cGAN")
    assert colours.startswith(
        "| L1+cGAN | 1.000 ± 0.000 [1.000, 1.000] | 1.000 ± 0.000 [1.000, 1.000] | 1.000 ± 0.000 [1.000, 1.000] |"
    )
    shifted = table_line(text, "Colour histograms", "L1")
    pooled = float(
        intersections(split_channels(histograms(False).sum(0))["L"], split_channels(histograms(True).sum(0))["L"])
    )
    assert shifted.startswith(f"| L1 | {pooled:.3f} ± 0.000 [") and pooled < 1
    low, high = intervals(shifted)[0]
    assert low - 1e-9 <= pooled <= high + 1e-9 and high - low > 0.01  # resamples overlap differently
    assert "**: L1+cGAN > L1 on L intersection: +" in text  # a claim on a colour channel gets its verdict line
    fid = table_line(text, "FID", "released checkpoint")
    assert fid.startswith("| released checkpoint | not trained here[^") and fid.endswith("| 119.10 |")
    assert "measured by someone else; not evaluated here" in text
    assert "| λ = 1 | n/a[^" in text.split("## FID\n", 1)[1]  # the weights are absent: n/a with the reason


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("metric: fid\n", "metric: fidd\n"), "metric must be one of fcn, labelmap, colorhist, fid"),
        (('note: "measured by someone else; not evaluated here"', 'note: " "'), "note must say"),
        (("paper: [119.1]", "paper: null"), "a row not trained here is shown for the paper's numbers"),
        (("paper: [0.81, 0.69, 0.70]", "paper: [0.81, 0.69]"), "must be null or a list of 3 numbers"),
        (
            ("    metric: labelmap\n", "    metric: labelmap\n    direction: reverse\n"),
            "a pix2pix run has one direction",
        ),
        (
            ("metric: pixel_acc, source", "metric: L, source"),
            "must be one of pixel_acc, class_acc, class_iou in a labelmap",
        ),
        (
            ('  lam:  {label: "λ = 1",   set:', '  lam:  {label: "λ = 1", model: pix3pix, set:'),
            "must be pix2pix or cyclegan",
        ),
    ],
)
def test_bad_section_constructs_name_the_key(project: Path, edit: tuple[str, str], message: str) -> None:  # noqa: F811
    assert edit[0] in SECTIONS_YAML
    (project / "params" / "tables" / f"{TABLE}.yaml").write_text(SECTIONS_YAML.replace(*edit))
    with pytest.raises(ConfigError, match="tiny.yaml") as info:
        load_table(TABLE)
    assert message in str(info.value)


def test_the_new_tables_hold_the_papers_numbers() -> None:
    p2l = load_table("pix2pix_photo2labels")
    assert p2l.base_set == {"data.direction": "AtoB"} and p2l.sections[0].metric == "labelmap"
    assert [r.paper for r in p2l.sections[0].rows] == [(0.86, 0.42, 0.35), (0.74, 0.28, 0.22), (0.83, 0.36, 0.29)]
    p2p = {s.id: s for s in load_table("pix2pix_ablation").sections}
    assert p2p["colour_histograms"].paper_columns == ("L", "a", "b")
    assert p2p["colour_histograms"].rows[-1].paper == (0.83, 0.68, 0.78)  # PixelGAN
    assert p2p["fid"].not_trained[0].paper == (119.1,)
    cg = {s.id: s for s in load_table("cyclegan_ablation").sections}
    assert {r.row: r.paper for r in cg["losses_photo2labels"].rows}["gan_backward"] == (0.01, 0.06, 0.01)
    assert all(r.direction == "reverse" for r in cg["losses_photo2labels"].rows)
    assert [r.label for r in cg["baselines"].not_trained] == ["CoGAN", "BiGAN/ALI", "SimGAN", "Feature loss + GAN"]
    assert [r.paper for r in cg["baselines_photo2labels"].rows] == [(0.58, 0.22, 0.16), (0.85, 0.40, 0.32)]
    assert cg["baselines_photo2labels"].rows[1].direction == "forward"  # pix2pix trained photo→labels
    assert cg["fid"].not_trained[0].paper == (123.6,)
