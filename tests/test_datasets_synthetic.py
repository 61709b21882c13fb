"""The offline `synthetic` data set: deterministic, fast, facades-compatible, plausible."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from ganrepro.errors import UserError
from ganrepro.preparation.manifest import load_manifest, verify_files
from ganrepro.preparation.prepare import prepare_dataset
from ganrepro.preparation.registry import load_registry, prepared_dir
from ganrepro.preparation.synthetic import scene

QUIET = {"log": lambda m: None}


@pytest.fixture(scope="module")
def spec():
    return load_registry()["synthetic"]


def test_scenes_are_deterministic_and_independent_of_counts():
    photo, labels = scene(0, "train", 5, 64)
    again_photo, again_labels = scene(0, "train", 5, 64)
    assert np.array_equal(photo, again_photo) and np.array_equal(labels, again_labels)
    other_photo, _ = scene(1, "train", 5, 64)
    assert not np.array_equal(photo, other_photo)
    assert not np.array_equal(scene(0, "test", 5, 64)[0], photo)


def test_layout_is_plausible_and_photos_depend_on_labels():
    counts = np.zeros(12)
    for i in range(1, 41):
        photo, labels = scene(0, "train", i, 64)
        assert photo.shape == (64, 64, 3) and photo.dtype == np.uint8 and labels.max() < 12
        counts += np.bincount(labels.ravel(), minlength=12)
        # windows are darker than the wall they sit in: a segmenter can learn photo -> labels
        lum = photo.mean(axis=-1)
        assert lum[labels == 2].mean() < lum[labels == 1].mean()
    share = counts / counts.sum()
    assert (share > 0).all(), "every CMP class appears"
    assert share.argmax() == 1 and share[2] > 0.08  # facade wall dominates, many windows


def test_prepare_synthetic_layout_determinism_and_speed(tmp_path, spec):
    start = time.monotonic()
    first = prepare_dataset(spec, tmp_path / "a", options={"size": 64, "train": 200, "test": 50, "seed": 3}, **QUIET)
    elapsed = time.monotonic() - start
    assert elapsed < 15, f"250 scenes took {elapsed:.1f}s"
    second = prepare_dataset(spec, tmp_path / "b", options={"size": 64, "train": 200, "test": 50, "seed": 3}, **QUIET)
    assert first["data_hash"] == second["data_hash"] and first["files"] == second["files"]
    prepared = prepared_dir("synthetic", tmp_path / "a")
    assert first["kind"] == "both" and first["source_sha256"] is None
    assert first["generator"] == {"seed": 3, "size": 64, "train": 200, "test": 50, "version": 1}
    assert first["splits"] == {"train": 200, "test": 50, "trainA": 200, "trainB": 200, "testA": 50, "testB": 50}
    assert first["image_size"] == [64, 64] and first["photo_side"] == "A" and first["labels_to_photo"] == "BtoA"
    assert first["classes"] == list(load_registry()["facades"].labels.classes)
    assert first["label_decoding"]["within_10"] == 1.0  # PNG colour maps decode exactly
    pair = np.asarray(Image.open(prepared / "test" / "7.png"))
    assert pair.shape == (64, 128, 3)
    assert np.array_equal(np.asarray(Image.open(prepared / "testA" / "7.png")), pair[:, :64])
    assert np.array_equal(np.asarray(Image.open(prepared / "testB" / "7.png")), pair[:, 64:])
    photo, labels = scene(3, "test", 7, 64)
    assert np.array_equal(pair[:, :64], photo)
    assert np.array_equal(np.asarray(Image.open(prepared / "labels" / "test" / "7.png")), labels)
    assert any("same scenes" in note for note in first["notes"])
    assert verify_files(prepared) == [] and load_manifest(prepared)["data_hash"] == first["data_hash"]

    other = prepare_dataset(spec, tmp_path / "b", options={"size": 64, "train": 20, "test": 5, "seed": 4}, **QUIET)
    assert other["data_hash"] != first["data_hash"]


def test_registry_defaults_and_option_checks(tmp_path, spec):
    manifest = prepare_dataset(spec, tmp_path, options={"train": 3, "test": 2}, **QUIET)
    assert manifest["generator"]["size"] == 64 and manifest["generator"]["seed"] == 0
    with pytest.raises(UserError, match="even number >= 16"):
        prepare_dataset(spec, tmp_path, options={"size": 15}, **QUIET)
    with pytest.raises(UserError, match=">= 1"):
        prepare_dataset(spec, tmp_path, options={"train": 0}, **QUIET)
