"""The run directory's formats as every stage reads them: one owner (ganrepro.runfiles), one agreement."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from ganrepro.errors import DataError
from ganrepro.runfiles import (
    LOSS_LOG_COLUMNS,
    METRICS_FILE,
    METRICS_FORMAT,
    check_metrics_format,
    eval_dir,
    metrics_path,
    read_losses,
    split_commit,
)
from ganrepro.tracking.history import loss_points
from ganrepro.tracking.scores import final_scores
from ganrepro.training.losslog import LossLog


def test_loss_log_written_by_training_is_read_alike_by_report_and_tracker(tmp_path: Path) -> None:
    path = tmp_path / "losses.csv"
    log = LossLog(path, ("G_L1", "D_real"), None)
    for step in (1, 2):
        log.add(
            {"step": step, "epoch": 0, "iter": step, "lr": 0.0002, "seconds": 0.5},
            {"G_L1": torch.tensor(1.0 / step), "D_real": torch.tensor(0.25)},
        )
    log.flush()
    log.close()
    assert path.read_text().splitlines()[0] == ",".join([*LOSS_LOG_COLUMNS, "G_L1", "D_real"])
    losses = read_losses(path)  # the report: the step and the losses, no bookkeeping column
    assert list(losses) == ["step", "G_L1", "D_real"]
    assert losses["step"] == [1.0, 2.0] and math.isclose(losses["G_L1"][1], 0.5)
    logged = {p.key for p in loss_points(path)}  # the tracker: the losses and the rate
    assert logged == {"lr", "loss/G_L1", "loss/D_real"}


def test_metrics_location_and_format_are_one_definition(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert metrics_path(run) == run / METRICS_FILE == eval_dir(run) / "metrics.json"
    assert eval_dir(run, "val", train_mode=False) == run / "eval" / "val-evalmode"
    document = {"format": METRICS_FORMAT, "metrics": {"psnr": {"value": 20.0}}}
    check_metrics_format(document, "m.json")
    assert final_scores(document) == {"psnr": 20.0}
    with pytest.raises(DataError, match="expected 'ganrepro-metrics/1'"):
        final_scores({**document, "format": "ganrepro-metrics/0"})


def test_commit_text_round_trips() -> None:
    assert split_commit("abc123-dirty") == ("abc123", True)
    assert split_commit("abc123") == ("abc123", False)
    assert split_commit(None) == (None, None)


def test_tracked_scores_include_photo_to_labels_colour_histograms_and_the_reverse_generator(tmp_path: Path) -> None:
    import json

    from ganrepro.tracking.scores import reverse_scores

    forward = {
        "format": METRICS_FORMAT,
        "metrics": {
            "colorhist": {"L": 0.8, "a": 0.7, "b": 0.6},
            "labelmap": {"available": False, "reason": "photos out"},
        },
    }
    (tmp_path / "reverse").mkdir()
    back = {"format": METRICS_FORMAT, "metrics": {"labelmap": {"pixel_acc": 0.5, "class_acc": 0.25, "class_iou": 0.1}}}
    (tmp_path / "reverse" / "metrics.json").write_text(json.dumps(back))
    assert final_scores(forward) == {"colorhist_L": 0.8, "colorhist_a": 0.7, "colorhist_b": 0.6}
    assert reverse_scores(forward, tmp_path) == {}  # not evaluated with --reverse
    forward["reverse"] = {"file": "reverse/metrics.json"}
    assert reverse_scores(forward, tmp_path) == {
        "reverse_labelmap_pixel_acc": 0.5,
        "reverse_labelmap_class_acc": 0.25,
        "reverse_labelmap_class_iou": 0.1,
    }
    forward["reverse"] = {"file": "reverse/gone.json"}
    with pytest.raises(DataError, match="does not exist"):
        reverse_scores(forward, tmp_path)
