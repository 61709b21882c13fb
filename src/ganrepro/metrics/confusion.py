"""FCN-score arithmetic: one confusion matrix over a whole test set, and the scores derived from it.

The matrix has rows = ground-truth class and columns = predicted class, accumulated over every labelled pixel
of every image (never averaged per image), as pix2pix's ``scripts/eval_cityscapes`` does:

* per-pixel accuracy  = trace / sum
* per-class accuracy  = mean over classes of diag / rowsum
* class IoU           = mean over classes of diag / (rowsum + colsum - diag)

Pixels whose ground truth is the ignore index (255) are dropped before counting.

Two departures from the reference script are deliberate and explicit:

* Range check.  The reference never checks predictions: a class id outside [0, K) (its 20-channel net can
  emit class 19 for 19 labels) lands in a wrong cell of the ``bincount`` or makes the frame silently skipped.
  Here any prediction outside [0, K), and any ground-truth value that is neither a class nor the ignore index,
  raises :class:`~ganrepro.errors.DataError` naming the image.
* Absent classes.  A class with no ground-truth pixel in the whole set (rowsum 0) has an undefined accuracy
  (0/0).  The reference adds 1e-12 to every denominator, so such a class counts as **0** in both means.  We
  report that convention (``*_absent_as_zero``, the one the tables use, so that our numbers are comparable
  with the papers') **and** the mean over classes present in the ground truth (``*_present_only``, the
  NaN-excluding mean).  The two differ only when a class is absent; ``absent_classes`` lists those.  The IoU
  of an absent class is 0 under the reference convention whether or not it was (wrongly) predicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ganrepro.errors import DataError

#: The convention the tables use; stored with every score so that readers know which mean they see.
TABLE_CONVENTION = "absent_as_zero"
ABSENT_CLASS_NOTE = (
    "classes absent from the ground truth of the whole set (rowsum 0) count as 0 in the per-class accuracy and "
    "IoU means (pix2pix eval_cityscapes convention, used by the tables); *_present_only excludes them"
)


def confusion_matrix(
    label: np.ndarray,
    pred: np.ndarray,
    num_classes: int,
    ignore_index: int | None = 255,
    name: str = "<image>",
) -> np.ndarray:
    """The (K, K) int64 confusion matrix of one image; ``name`` is quoted in range errors."""
    label = np.asarray(label)
    pred = np.asarray(pred)
    if label.shape != pred.shape:
        raise DataError(f"{name}: prediction shape {pred.shape} differs from label shape {label.shape}")
    label = label.astype(np.int64, copy=False).ravel()
    pred = pred.astype(np.int64, copy=False).ravel()
    check_range(pred, num_classes, None, name, "prediction")
    check_range(label, num_classes, ignore_index, name, "label")
    keep = label != ignore_index if ignore_index is not None else slice(None)
    codes = label[keep] * num_classes + pred[keep]
    return np.bincount(codes, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def check_range(values: np.ndarray, k: int, ignore_index: int | None, name: str, what: str) -> None:
    """Raise naming the image and the offending values when ``values`` leave [0, k) (ignore index allowed)."""
    bad = (values < 0) | (values >= k)
    if ignore_index is not None:
        bad &= values != ignore_index
    if bad.any():
        found = np.unique(values[bad])[:10].tolist()
        allowed = f"[0, {k})" + (f" or {ignore_index}" if ignore_index is not None else "")
        raise DataError(
            f"{name}: {what} values {found} outside {allowed} in {int(bad.sum())} pixels "
            f"({'segmenter output does not match the classes' if what == 'prediction' else 'wrong label map'})"
        )


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den == 0 (never a division warning)."""
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def scores_from_confusion(matrix: np.ndarray, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-pixel accuracy, per-class accuracy and IoU of a confusion matrix, under both absent-class means.

    Returns plain Python floats/lists (JSON-ready).  Per-class lists hold ``None`` for undefined (0/0) cells.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {matrix.shape}")
    k = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for a {k}-class confusion matrix")
    diag = np.diag(matrix)
    rows, cols = matrix.sum(1), matrix.sum(0)
    total = matrix.sum()
    class_acc = _safe_ratio(diag, rows)
    iou = _safe_ratio(diag, rows + cols - diag)
    present = rows > 0
    # Reference convention: undefined -> 0 and all K classes in the mean; an absent class's IoU is 0 too
    # (diag is 0 when rowsum is 0), even if it was predicted.
    iou_ref = np.where(present, np.nan_to_num(iou), 0.0)
    acc_ref = np.nan_to_num(class_acc)

    def mean_present(values: np.ndarray) -> float | None:
        return float(values[present].mean()) if present.any() else None

    return {
        "pixel_acc": float(diag.sum() / total) if total > 0 else None,
        "class_acc": float(acc_ref.mean()),
        "class_iou": float(iou_ref.mean()),
        "class_acc_absent_as_zero": float(acc_ref.mean()),
        "class_iou_absent_as_zero": float(iou_ref.mean()),
        "class_acc_present_only": mean_present(class_acc),
        "class_iou_present_only": mean_present(np.nan_to_num(iou)),
        "absent_classes": [names[i] for i in np.flatnonzero(~present)],
        "absent_class_convention": TABLE_CONVENTION,
        "per_class": {
            names[i]: {
                "acc": None if np.isnan(class_acc[i]) else float(class_acc[i]),
                "iou": None if not present[i] else float(iou[i]),
                "pixels": int(rows[i]),
            }
            for i in range(k)
        },
        "labelled_pixels": int(total),
    }


def table_scores(matrices: np.ndarray) -> dict[str, np.ndarray]:
    """The three table scores of each matrix in a stack (..., K, K), vectorised for bootstrap replicates.

    Same formulas and absent-as-zero convention as :func:`scores_from_confusion` (whose results a test
    compares), returned as float64 arrays of shape (...); per-pixel accuracy is NaN for an empty matrix.
    """
    m = np.asarray(matrices, dtype=np.float64)
    diag = np.diagonal(m, axis1=-2, axis2=-1)
    rows, cols = m.sum(-1), m.sum(-2)
    total = rows.sum(-1)
    present = rows > 0
    acc = np.zeros_like(diag)
    np.divide(diag, rows, out=acc, where=present)
    union = rows + cols - diag
    iou = np.zeros_like(diag)
    np.divide(diag, union, out=iou, where=present & (union > 0))
    pixel = np.full(total.shape, np.nan)
    np.divide(diag.sum(-1), total, out=pixel, where=total > 0)
    return {"pixel_acc": pixel, "class_acc": acc.mean(-1), "class_iou": iou.mean(-1)}


class ConfusionAccumulator:
    """Sums per-image confusion matrices over a set; remembers how many images went in (none are skipped)."""

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.images = 0

    def update(self, label: np.ndarray, pred: np.ndarray, name: str = "<image>") -> np.ndarray:
        """Add one image; returns its own matrix (kept per image where a report bootstraps over images)."""
        matrix = confusion_matrix(label, pred, self.num_classes, self.ignore_index, name)
        self.matrix += matrix
        self.images += 1
        return matrix

    def scores(self, class_names: Sequence[str] | None = None) -> dict[str, Any]:
        result = scores_from_confusion(self.matrix, class_names)
        result["n_images"] = self.images
        return result
