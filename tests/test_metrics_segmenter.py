"""The FCN-score's segmenter: training from scratch on tiny data, its outputs, scoring and the ground-truth row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import CLASSES, make_prepared, manifest_hash

from ganrepro.cli import main
from ganrepro.errors import DataError
from ganrepro.metrics.segmenter import build_segmenter, fcn_score, ground_truth_scores, load_segmenter


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(prepared dir, segmenter folder) after 2 steps of training from scratch through the CLI."""
    root = tmp_path_factory.mktemp("seg")
    make_prepared(root / "data" / "tiny")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch"))  # no ImageNet weights anywhere: from scratch
        mp.delenv("GANREPRO_BACKBONE_WEIGHTS", raising=False)
        assert (
            main(
                [
                    "segmenter",
                    "train",
                    "tiny",
                    "--data-dir",
                    str(root / "data"),
                    "--epochs",
                    "1",
                    "--max-steps",
                    "2",
                    "--batch-size",
                    "3",
                    "--device",
                    "cpu",
                    "--out",
                    str(root / "seg"),
                ]
            )
            == 0
        )
    return root / "data" / "tiny" / "prepared", root / "seg"


def test_training_writes_checkpoint_and_json(trained: tuple[Path, Path]) -> None:
    prepared, out = trained
    record = json.loads((out / "segmenter.json").read_text())
    assert (out / "segmenter.pt").is_file()
    assert record["arch"] == "lraspp_mobilenet_v3_large" and record["classes"] == CLASSES and record["size"] == 32
    assert record["backbone"]["imagenet_backbone"] is False and "from scratch" in record["backbone"]["reason"]
    assert record["steps"] == 2 and record["seed"] == 0 and record["data_hash"] == manifest_hash(prepared)
    val = record["val"]
    assert val["split"] == "test" and val["n_images"] == 3 and 0 <= val["pixel_acc"] <= 1
    assert Path(val["ground_truth_cache"]).is_file()


def test_training_is_deterministic(trained: tuple[Path, Path], tmp_path: Path) -> None:
    import torch

    from ganrepro.metrics.segmenter_train import train_segmenter

    prepared, out = trained
    train_segmenter(prepared, tmp_path, epochs=1, max_steps=2, batch_size=3, backbone_weights=None)
    first = torch.load(out / "segmenter.pt", weights_only=True)["state_dict"]
    second = torch.load(tmp_path / "segmenter.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_ground_truth_row_cached_and_equal_to_score_on_real_photos(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared, out = trained
    gt = ground_truth_scores(prepared, out / "segmenter.pt")
    assert Path(gt["cache_file"]).parent == out and gt["data_hash"] == manifest_hash(prepared)
    assert ground_truth_scores(prepared, out / "segmenter.pt") == gt  # from the cache
    # the same row through `ganrepro score --fake <real photos>`
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for pair in sorted((prepared / "test").iterdir()):
        image = Image.open(pair)
        image.crop((0, 0, image.height, image.height)).save(photos / pair.name)
    report = tmp_path / "gt.json"
    assert (
        main(
            [
                "score",
                "--real",
                str(photos),
                "--fake",
                str(photos),
                "--labels",
                str(prepared / "labels" / "test"),
                "--segmenter",
                str(out / "segmenter.pt"),
                "--metrics",
                "fcn",
                "--device",
                "cpu",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    fcn = json.loads(report.read_text())["metrics"]["fcn"]
    assert fcn["confusion_matrix"] == gt["confusion_matrix"] and fcn["class_iou"] == gt["class_iou"]
    assert fcn["absent_class_convention"] == "absent_as_zero" and fcn["n_images"] == 3
    assert fcn["protocol"] == gt["protocol"] == "pix2pix" and "PIL bilinear" in fcn["input_resize"]
    assert fcn["segmenter_sha256"] == gt["segmenter_sha256"]
    # FID without weights beside it: recorded as unavailable, the FCN-score still computed
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANREPRO_FID_WEIGHTS", raising=False)
    assert (
        main(
            [
                "score",
                "--real",
                str(photos),
                "--fake",
                str(photos),
                "--labels",
                str(prepared / "labels" / "test"),
                "--segmenter",
                str(out / "segmenter.pt"),
                "--metrics",
                "fid,fcn",
                "--skip-unavailable",
                "--device",
                "cpu",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    both = json.loads(report.read_text())["metrics"]
    assert list(both) == ["fcn", "fid"] and both["fid"]["available"] is False
    assert both["fcn"]["confusion_matrix"] == gt["confusion_matrix"]


def test_scoring_at_label_resolution_and_channel_check(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from PIL import Image

    from ganrepro.metrics.imagesets import NamedImage

    prepared, out = trained
    seg = load_segmenter(out / "segmenter.pt")
    big = np.zeros((64, 64), np.uint8)  # labels at twice the segmenter's resolution: logits are upsampled
    Image.fromarray(big).save(tmp_path / "a.png")
    image = NamedImage("a", np.full((32, 32, 3), 128, np.uint8))
    result = fcn_score(seg, [image], {"a": tmp_path / "a.png"})
    assert result["labelled_pixels"] == 64 * 64 and result["absent_classes"] == CLASSES[1:]
    seg.model, _ = build_segmenter("lraspp_mobilenet_v3_large", len(CLASSES) + 1, None)  # K+1 channels
    seg.model.eval()
    with pytest.raises(DataError, match="5 channels for 4 classes"):
        fcn_score(seg, [image], {"a": tmp_path / "a.png"})


def test_imagenet_backbone_used_when_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANREPRO_BACKBONE_WEIGHTS", raising=False)
    torch.manual_seed(1)
    imagenet = torchvision.models.mobilenet_v3_large(weights=None).state_dict()  # stands in for the real file
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "mobilenet_v3_large-8738ca79.pth"
    cached.parent.mkdir(parents=True)
    torch.save(imagenet, cached)
    model, record = build_segmenter("lraspp_mobilenet_v3_large", 4, "auto")
    assert record["imagenet_backbone"] is True and record["source"] == "torch hub cache"
    assert record["official_hash_matches"] is False  # a stand-in, and the record says so
    assert torch.equal(model.backbone.state_dict()["0.0.weight"], imagenet["features.0.0.weight"])
