"""The final scores of a run, from ``ganrepro evaluate``'s metrics.json, as flat MLflow metric names.

metrics.json (format :data:`ganrepro.runfiles.METRICS_FORMAT`) nests each metric with its protocol; only the
headline numbers are logged, under short names that sort together in the UI.  A metric that could not be
computed is recorded
there as ``{"available": false, "reason": ...}`` and is simply absent here (its reason stays in the
metrics.json artifact), as is any value that is null or not finite (e.g. PSNR of identical images).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganrepro.errors import DataError
from ganrepro.runfiles import check_metrics_format, read_json
from ganrepro.tracking.batch import finite

FCN_KEYS = ("pixel_acc", "class_acc", "class_iou", "class_acc_present_only", "class_iou_present_only")

#: (metric in metrics.json, key inside it, MLflow name)
SCALARS: tuple[tuple[str, str, str], ...] = (
    *(("fcn", key, f"fcn_{key}") for key in FCN_KEYS),
    ("fid", "value", "fid"),
    ("kid", "mean", "kid_mean"),
    ("kid", "std", "kid_std"),
    ("ssim", "value", "ssim_rgb"),
    ("ssim", "value_y", "ssim_y"),
    ("psnr", "value", "psnr"),
    *(("labelmap", key, f"labelmap_{key}") for key in FCN_KEYS),
    *(("colorhist", key, f"colorhist_{key}") for key in ("L", "a", "b")),
)


def available(entry: Any) -> bool:
    return isinstance(entry, Mapping) and entry.get("available", True) is not False


def final_scores(document: Mapping[str, Any], where: str = "metrics.json") -> dict[str, float]:
    """The available numeric headline metrics, e.g. {"fcn_pixel_acc": 0.61, "ssim_rgb": 0.3, ...}; the FCN
    score of the real photos (the table's ground-truth row) as ``fcn_gt_<key>``."""
    check_metrics_format(document, where)
    metrics = document.get("metrics")
    if not isinstance(metrics, Mapping):
        raise DataError(f"{where}: no 'metrics' object")
    scores: dict[str, float] = {}
    for metric, key, name in SCALARS:
        entry = metrics.get(metric)
        if available(entry):
            value = finite(entry.get(key))
            if value is not None:
                scores[name] = value
    fcn = metrics.get("fcn")
    truth = fcn.get("ground_truth") if available(fcn) else None
    if available(truth):
        for key in FCN_KEYS:
            value = finite(truth.get(key))
            if value is not None:
                scores[f"fcn_gt_{key}"] = value
    return scores


def reverse_scores(document: Mapping[str, Any], folder: Path, where: str = "metrics.json") -> dict[str, float]:
    """The scores of CycleGAN's second generator (``evaluate --reverse``: the file ``document`` names under
    ``reverse``, beside it in ``folder``) as ``reverse_<name>``; {} when it was not evaluated."""
    record = document.get("reverse")
    if not isinstance(record, Mapping):
        return {}
    path = folder / str(record.get("file"))
    if not path.is_file():
        raise DataError(f"{where} names the reverse generator's scores {path}, which does not exist")
    reverse = read_json(path, "reverse metrics file")
    return {f"reverse_{name}": value for name, value in final_scores(reverse, str(path)).items()}


def final_step(document: Mapping[str, Any]) -> int:
    """The training step the scored checkpoint was saved at (0 if not recorded)."""
    run = document.get("run")
    step = finite(run.get("step")) if isinstance(run, Mapping) else None
    return int(step) if step is not None else 0
