"""`ganrepro prepare` for aligned and unaligned archives: layout, checks, labels, manifest."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from datasets_helpers import LocalServer, entry, facade_pairs, facades_archive, image_bytes, spec_for, tar_gz, zip_bytes
from PIL import Image

from ganrepro.errors import DataError
from ganrepro.hashing import sha256_file, sha256_json
from ganrepro.preparation.download import download_dataset
from ganrepro.preparation.manifest import load_manifest, verify_files
from ganrepro.preparation.prepare import prepare_dataset
from ganrepro.preparation.registry import prepared_dir
from ganrepro.preparation.transfer import RetryPolicy

FAST = RetryPolicy(retries=1, backoff=0.01, timeout=5)
QUIET = {"log": lambda m: None}


def fetch(tmp_path, archive: bytes, name: str = "toy", file: str = "toy.tar.gz", **body):
    """Serve ``archive``, download it into tmp_path/data with a test registry entry; return (spec, data dir)."""
    with LocalServer() as server:
        server.state.files[f"/{file}"] = archive
        spec = spec_for(tmp_path / "params", name, entry(file, f"{server.url}/{file}", **body))
        download_dataset(spec, tmp_path / "data", policy=FAST, **QUIET)
    return spec, tmp_path / "data"


def test_aligned_prepare_layout_labels_and_manifest(tmp_path):
    archive = facades_archive(train=4, test=2)
    spec, data = fetch(tmp_path, archive, splits={"train": 4, "val": 1, "test": 2})
    manifest = prepare_dataset(spec, data, **QUIET)
    prepared = prepared_dir("toy", data)
    assert sorted(p.name for p in (prepared / "train").iterdir()) == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    # JPEGs are copied byte for byte, never re-encoded
    source = data / "toy" / "extracted" / "toy" / "toy" / "test" / "2.jpg"
    assert (prepared / "test" / "2.jpg").read_bytes() == source.read_bytes()
    label = Image.open(prepared / "labels" / "test" / "2.png")
    assert label.mode == "L" and label.size == (32, 32) and np.asarray(label).max() < 12

    assert manifest["name"] == "toy" and manifest["kind"] == "aligned"
    assert manifest["source_sha256"] == hashlib.sha256(archive).hexdigest()
    assert manifest["splits"] == {"train": 4, "test": 2} and manifest["image_size"] == [32, 32]
    assert manifest["classes"][:3] == ["background", "facade", "window"] and len(manifest["classes"]) == 12
    assert manifest["ignore_index"] == 255 and manifest["photo_side"] == "A" and manifest["labels_to_photo"] == "BtoA"
    assert set(manifest["files"]) == {f"train/{i}.jpg" for i in range(1, 5)} | {"test/1.jpg", "test/2.jpg"} | {
        f"labels/train/{i}.png" for i in range(1, 5)
    } | {"labels/test/1.png", "labels/test/2.png"}
    assert manifest["files"]["test/2.jpg"] == sha256_file(source)
    assert manifest["data_hash"] == sha256_json(dict(sorted(manifest["files"].items())))
    assert any("differ from the official" in note for note in manifest["notes"])  # a warning, not a failure
    assert load_manifest(prepared) == json.loads((prepared / "manifest.json").read_text())
    assert verify_files(prepared) == []

    # decoded labels agree with the generator's truth except near JPEG-smeared boundaries (most of a 32 px map)
    from ganrepro.preparation.synthetic import scene

    _, truth = scene(2, "train", 2, 32)
    assert (np.asarray(label) == truth).mean() > 0.75

    # up to date: a second call returns the same manifest without rebuilding
    mtime = (prepared / "manifest.json").stat().st_mtime_ns
    assert prepare_dataset(spec, data, **QUIET)["data_hash"] == manifest["data_hash"]
    assert (prepared / "manifest.json").stat().st_mtime_ns == mtime
    assert prepare_dataset(spec, data, force=True, **QUIET)["data_hash"] == manifest["data_hash"]


def test_corrupt_jpeg_stops_preparation_naming_the_file(tmp_path):
    pairs = facade_pairs(3, seed=3)
    members = {f"toy/train/{i + 1}.jpg": b for i, b in enumerate(pairs)}
    members["toy/train/2.jpg"] = pairs[1][: len(pairs[1]) // 2]  # truncated JPEG
    members["toy/test/1.jpg"] = pairs[0]
    spec, data = fetch(tmp_path, tar_gz(members))
    with pytest.raises(DataError, match=r"train/2\.jpg: cannot decode image"):
        prepare_dataset(spec, data, **QUIET)
    assert not prepared_dir("toy", data).exists()
    assert not [p for p in (data / "toy").iterdir() if p.name.startswith(".prepared")]


def test_wrongly_sized_pair_is_named(tmp_path):
    pairs = facade_pairs(2, seed=4)
    wrong = image_bytes(np.zeros((32, 60, 3), np.uint8))
    spec, data = fetch(
        tmp_path, tar_gz({"toy/train/1.jpg": pairs[0], "toy/train/7.jpg": wrong, "toy/test/1.jpg": pairs[1]})
    )
    with pytest.raises(DataError, match=r"train/7\.jpg: aligned pair must be exactly 2:1.*60x32"):
        prepare_dataset(spec, data, **QUIET)


def test_failed_reprepare_keeps_the_previous_preparation(tmp_path):
    spec, data = fetch(tmp_path, facades_archive())
    first = prepare_dataset(spec, data, **QUIET)
    broken = data / "toy" / "extracted" / "toy" / "toy" / "test" / "1.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="cannot decode"):
        prepare_dataset(spec, data, force=True, **QUIET)
    assert load_manifest(prepared_dir("toy", data))["data_hash"] == first["data_hash"]


def test_non_rgb_images_are_converted_with_a_note(tmp_path):
    gray = image_bytes(np.full((32, 64), 128, np.uint8), "PNG")
    pairs = facade_pairs(2, seed=5)
    spec, data = fetch(
        tmp_path,
        tar_gz({"toy/train/1.jpg": pairs[0], "toy/train/2.png": gray, "toy/test/1.jpg": pairs[1]}),
        labels=None,
    )
    manifest = prepare_dataset(spec, data, **QUIET)
    assert "train/2.png" in manifest["files"] and manifest["classes"] is None
    assert Image.open(prepared_dir("toy", data) / "train" / "2.png").mode == "RGB"
    assert any("mode L converted to RGB" in note for note in manifest["notes"])


def test_unaligned_prepare_with_colour_labels(tmp_path):
    pairs = [np.asarray(Image.open(__import__("io").BytesIO(b))) for b in facade_pairs(3, seed=6, fmt="PNG")]
    members = {}
    for i, pair in enumerate(pairs, 1):
        members[f"toy/trainA/{i}_A.jpg"] = image_bytes(np.ascontiguousarray(pair[:, :32]))
        members[f"toy/trainB/{i}_B.jpg"] = image_bytes(np.ascontiguousarray(pair[:, 32:]), quality=95)
    members["toy/testA/1_A.jpg"] = members["toy/trainA/1_A.jpg"]
    members["toy/testB/1_B.jpg"] = members["toy/trainB/1_B.jpg"]
    spec, data = fetch(
        tmp_path,
        zip_bytes(members),
        file="toy.zip",
        recipe="unaligned",
        splits={"trainA": 3, "trainB": 3, "testA": 1, "testB": 1},
    )
    manifest = prepare_dataset(spec, data, **QUIET)
    assert manifest["kind"] == "unaligned" and manifest["splits"] == {"trainA": 3, "trainB": 3, "testA": 1, "testB": 1}
    assert not any("differ from the official" in note for note in manifest["notes"])
    assert {"labels/trainB/1_B.png", "labels/testB/1_B.png"} <= set(manifest["files"])
    assert not any(f.startswith("labels/trainA") for f in manifest["files"])
    assert manifest["image_size"] == [32, 32]


def test_label_side_that_is_not_a_colour_map_gets_a_note_not_labels(tmp_path):
    rng = np.random.default_rng(7)
    photo = lambda: image_bytes(rng.integers(90, 160, (32, 32, 3), dtype=np.uint8))  # noqa: E731
    members = {
        "toy/trainA/1.jpg": photo(),
        "toy/trainB/1.jpg": photo(),
        "toy/testA/1.jpg": photo(),
        "toy/testB/1.jpg": photo(),
    }
    spec, data = fetch(
        tmp_path,
        zip_bytes(members),
        file="toy.zip",
        recipe="unaligned",
        splits={"trainA": 1, "trainB": 1, "testA": 1, "testB": 1},
    )
    manifest = prepare_dataset(spec, data, **QUIET)
    assert not any(f.startswith("labels/") for f in manifest["files"])
    assert any("does not look like a colour label map" in note for note in manifest["notes"])
