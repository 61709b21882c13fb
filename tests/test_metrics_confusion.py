"""FCN-score arithmetic on hand-made confusion matrices, ignore handling and range checks."""

from __future__ import annotations

import numpy as np
import pytest

from ganrepro.errors import DataError
from ganrepro.metrics.confusion import ConfusionAccumulator, confusion_matrix, scores_from_confusion

LABEL = np.array([[0, 0, 1], [1, 2, 255]])
PRED = np.array([[0, 1, 1], [1, 0, 2]])
# By hand (rows = ground truth, cols = prediction; the 255 pixel is dropped):
MATRIX = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 0]])


def reference_scores(hist: np.ndarray) -> tuple[float, float, float]:
    """pix2pix scripts/eval_cityscapes/util.py get_scores, verbatim arithmetic (1e-12 in every denominator)."""
    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)
    cl_acc = np.diag(hist) / (hist.sum(1) + 1e-12)
    iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12)
    return acc, np.nanmean(cl_acc), np.nanmean(iu)


def test_matrix_by_hand_and_ignore_dropped() -> None:
    assert confusion_matrix(LABEL, PRED, 3).tolist() == MATRIX.tolist()
    # the ignore pixel's prediction does not count anywhere
    other = PRED.copy()
    other[1, 2] = 0
    assert confusion_matrix(LABEL, other, 3).tolist() == MATRIX.tolist()


def test_scores_by_hand() -> None:
    s = scores_from_confusion(MATRIX)
    assert s["pixel_acc"] == pytest.approx(3 / 5)
    assert s["class_acc"] == pytest.approx((1 / 2 + 2 / 2 + 0 / 1) / 3)
    # IoU: c0 1/(2+2-1), c1 2/(2+3-2), c2 0/(1+0-0)
    assert s["class_iou"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert s["absent_classes"] == []
    assert s["class_acc_present_only"] == pytest.approx(s["class_acc"])
    assert s["per_class"]["1"] == {"acc": 1.0, "iou": pytest.approx(2 / 3), "pixels": 2}


def test_absent_class_both_conventions() -> None:
    s = scores_from_confusion(confusion_matrix(LABEL, PRED, 4), ["a", "b", "c", "d"])
    assert s["absent_classes"] == ["d"]
    assert s["absent_class_convention"] == "absent_as_zero"
    assert s["class_acc"] == s["class_acc_absent_as_zero"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert s["class_iou"] == pytest.approx((1 / 3 + 2 / 3 + 0 + 0) / 4)
    assert s["class_acc_present_only"] == pytest.approx(0.5)
    assert s["class_iou_present_only"] == pytest.approx(1 / 3)
    assert s["per_class"]["d"]["acc"] is None and s["per_class"]["d"]["iou"] is None


def test_absent_but_predicted_counts_zero() -> None:
    matrix = np.array([[3, 1], [0, 0]])  # class 1 absent from the ground truth, predicted once
    s = scores_from_confusion(matrix)
    assert s["pixel_acc"] == pytest.approx(0.75)
    assert s["class_acc"] == pytest.approx(0.75 / 2)
    assert s["class_iou"] == pytest.approx(0.75 / 2)
    assert s["class_iou_present_only"] == pytest.approx(0.75)


def test_matches_reference_formulas_on_random_matrix() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 50, size=(19, 19))
    matrix[7, :] = 0  # an absent class: the reference counts it as 0
    s = scores_from_confusion(matrix)
    acc, cl_acc, iou = reference_scores(matrix)
    assert s["pixel_acc"] == pytest.approx(acc, abs=1e-9)
    assert s["class_acc"] == pytest.approx(cl_acc, abs=1e-9)
    assert s["class_iou"] == pytest.approx(iou, abs=1e-9)


def test_out_of_range_prediction_names_image() -> None:
    bad = PRED.copy()
    bad[0, 0] = 3
    with pytest.raises(DataError, match=r"frankfurt_000001.*prediction values \[3\]"):
        confusion_matrix(LABEL, bad, 3, name="frankfurt_000001")
    bad = PRED.copy()
    bad[1, 2] = -1  # even under an ignore pixel, a prediction outside [0, K) is a scorer bug
    with pytest.raises(DataError, match="img7"):
        confusion_matrix(LABEL, bad, 3, name="img7")


def test_bad_label_and_shape_rejected() -> None:
    label = LABEL.copy()
    label[0, 0] = 9
    with pytest.raises(DataError, match=r"x\.png: label values \[9\]"):
        confusion_matrix(label, PRED, 3, name="x.png")
    with pytest.raises(DataError, match="shape"):
        confusion_matrix(LABEL, PRED[:, :2], 3, name="y")


def test_accumulator_sums_over_images() -> None:
    acc = ConfusionAccumulator(3)
    acc.update(LABEL, PRED, "a")
    acc.update(LABEL, PRED, "b")
    assert acc.matrix.tolist() == (2 * MATRIX).tolist()
    scores = acc.scores()
    assert scores["n_images"] == 2
    assert scores["pixel_acc"] == pytest.approx(3 / 5)
    assert scores["labelled_pixels"] == 10


def test_table_scores_of_a_stack_equal_the_single_matrix_formulas() -> None:
    from ganrepro.metrics.confusion import table_scores

    rng = np.random.default_rng(3)
    stack = rng.integers(0, 20, size=(6, 4, 4))
    stack[2, 1, :] = 0  # class 1 absent from the ground truth of one matrix: counts as 0
    batch = table_scores(stack)
    for i, matrix in enumerate(stack):
        single = scores_from_confusion(matrix)
        for key in ("pixel_acc", "class_acc", "class_iou"):
            assert batch[key][i] == pytest.approx(single[key], abs=1e-12)
    assert np.isnan(table_scores(np.zeros((3, 3)))["pixel_acc"])
