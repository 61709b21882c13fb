"""A tiny table's fake run directories, as the pipeline leaves them, for the report tests: a params folder with
the table and two profiles, finished and evaluated runs with known per-pixel accuracies and per-image spreads."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganrepro.config import dump_yaml
from ganrepro.metrics import per_image
from ganrepro.metrics.confusion import scores_from_confusion
from ganrepro.reporting import build_report
from ganrepro.workflow.plan import Plan

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params"
TABLE = "tiny"
HASH = "ab" * 32
FID_REASON = "FID/KID need Inception weights, not found at /nowhere/pt_inception.pth"

#: The tiny table's model and rows, which every report test's table shares; each adds a title and sections.
TABLE_ROWS_YAML = """
table: tiny
model: pix2pix
base_config: params/pix2pix.yaml
citation: "Someone, Else. A Paper. 2017"
paper_columns: [pixel_acc, class_acc, class_iou]
rows:
  l1:   {label: "L1",      set: {pix2pix.gan: none}}
  full: {label: "L1+cGAN", set: {}}
  lam:  {label: "λ = 1",   set: {pix2pix.lambda_l1: 1}}
"""

TABLE_YAML = (
    TABLE_ROWS_YAML
    + """title: Tiny ablations
paper_setting: "toy labels→photo"
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
)

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
