"""pix2pix's Lab colour-histogram intersection and photo→labels scores of generated label maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import prepare_dataset
from PIL import Image

from ganrepro.cli import main
from ganrepro.metrics.colorhist import color_histogram_intersection, rgb_to_lab
from ganrepro.metrics.imagesets import NamedImage
from ganrepro.metrics.labelmaps import labelmap_score

PARAMS = Path(__file__).resolve().parents[1] / "params" / "pix2pix.yaml"


def solid(colour: tuple[int, int, int], name: str, size: int = 4) -> NamedImage:
    return NamedImage(name, np.full((size, size, 3), colour, dtype=np.uint8))


def test_lab_conversion_matches_scikit_image_and_known_colours() -> None:
    from skimage.color import rgb2lab

    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.allclose(rgb_to_lab(pixels), rgb2lab(pixels), atol=1e-3)
    assert np.allclose(rgb_to_lab(np.array([255, 255, 255], dtype=np.uint8)), [100, 0, 0], atol=1e-2)
    assert np.allclose(rgb_to_lab(np.array([0, 0, 0], dtype=np.uint8)), [0, 0, 0], atol=1e-6)


def test_histogram_intersection_on_sets_with_known_histograms() -> None:
    black, white = (0, 0, 0), (255, 255, 255)
    same = color_histogram_intersection([solid(black, "1"), solid(white, "2")], [solid(white, "1"), solid(black, "2")])
    assert same["L"] == pytest.approx(1.0) and same["a"] == pytest.approx(1.0) and same["b"] == pytest.approx(1.0)
    half = color_histogram_intersection([solid(black, "1"), solid(black, "2")], [solid(black, "1"), solid(white, "2")])
    assert half["L"] == pytest.approx(0.5)  # half the generated pixels at L 100 where the real ones have none
    assert half["a"] == pytest.approx(1.0) and half["b"] == pytest.approx(1.0)  # both grey: a = b = 0
    red, green = (255, 0, 0), (0, 255, 0)
    apart = color_histogram_intersection([solid(red, "1")], [solid(green, "1")])
    assert apart["a"] == 0.0 and apart["b"] == 0.0  # red (a ≈ 80, b ≈ 67) and green (a ≈ -86, b ≈ 83)


def test_labelmap_scores_decode_generated_colours_against_the_true_classes(tmp_path: Path) -> None:
    palette = [[0, 0, 170], [255, 255, 0], [170, 0, 0]]
    truth = np.zeros((4, 4), dtype=np.uint8)
    truth[:, 2:] = 1
    truth[3, :] = 2
    Image.fromarray(truth).save(tmp_path / "1.png")
    generated = np.asarray(palette, dtype=np.uint8)[truth].copy()
    generated[0, 0] = [250, 250, 10]  # a near-yellow pixel where class 0 is true: decoded as class 1, wrong
    generated[3, 3] = [160, 10, 5]  # near the class-2 colour, where class 2 is true: right
    result = labelmap_score([NamedImage("1", generated)], {"1": tmp_path / "1.png"}, palette, ["a", "b", "c"])
    assert result["pixel_acc"] == pytest.approx(15 / 16) and result["n_images"] == 1
    matrix = np.array(result["confusion_matrix"])
    assert matrix[0, 1] == 1 and matrix.trace() == 15
    big = np.kron(generated, np.ones((2, 2, 1), dtype=np.uint8))  # generated at twice the label resolution
    assert labelmap_score([NamedImage("1", big)], {"1": tmp_path / "1.png"}, palette, ["a", "b", "c"])[
        "pixel_acc"
    ] == pytest.approx(15 / 16)


def test_evaluate_scores_a_photo_to_labels_run_with_labelmap_and_colorhist(tmp_path: Path) -> None:
    prepared = prepare_dataset(tmp_path / "data", n_train=2, n_test=2)
    tiny = [
        "data.load_size=36",
        "data.crop_size=32",
        "network.ngf=4",
        "network.ndf=4",
        "network.generator=unet_32",
        "network.discriminator=patch16",
        "train.n_epochs=1",
        "train.n_epochs_decay=0",
        "train.sample_count=1",
        "train.sample_every_steps=0",
        "train.latest_every_steps=0",
        "train.checkpoint_every_epochs=0",
    ]
    manifest = json.loads((prepared / "manifest.json").read_text())
    photo_to_labels = "AtoB" if manifest["photo_side"] == "A" else "BtoA"
    sets = [x for o in [f"data.root={prepared}", f"data.direction={photo_to_labels}", *tiny] for x in ("--set", o)]
    assert main(["train", "--config", str(PARAMS), "--out", str(tmp_path / "run"), "--no-progress", *sets]) == 0
    assert main(["evaluate", str(tmp_path / "run"), "--metrics", "labelmap,colorhist,fcn", "--skip-unavailable"]) == 0
    metrics = json.loads((tmp_path / "run" / "eval" / "test-trainmode" / "metrics.json").read_text())["metrics"]
    assert metrics["labelmap"]["n_images"] == 2 and 0 <= metrics["labelmap"]["pixel_acc"] <= 1
    assert metrics["fcn"]["available"] is False  # a segmenter scores photos, not label maps
    assert set(metrics["colorhist"]) >= {"L", "a", "b"}
