"""The Cityscapes recipe on a mini gtFine/leftImg8bit tree built by the test."""

from __future__ import annotations

import json
import shutil
import zlib

import numpy as np
import pytest
from datasets_helpers import entry, image_bytes, spec_for, zip_bytes
from PIL import Image

from ganrepro.errors import DataError
from ganrepro.preparation.download import download_dataset
from ganrepro.preparation.prepare import prepare_dataset
from ganrepro.preparation.registry import prepared_dir
from ganrepro.preparation.transfer import RetryPolicy

FRAMES = {
    "train": ["bochum_000000_000313", "aachen_000001_000019", "aachen_000000_000019"],
    "val": ["lindau_000001_000019", "frankfurt_000000_000294"],
}
TRAIN_IDS = {
    7: 0,
    8: 1,
    11: 2,
    12: 3,
    13: 4,
    17: 5,
    19: 6,
    20: 7,
    21: 8,
    22: 9,
    23: 10,
    24: 11,
    25: 12,
    26: 13,
    27: 14,
    28: 15,
    31: 16,
    32: 17,
    33: 18,
}


def label_ids(seed: int) -> np.ndarray:
    """A 32x64 labelIds image using every id 0..33 (the 2:1 shape of real frames, small)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(34, dtype=np.uint8).repeat(61)[: 32 * 64]
    return rng.permutation(ids).reshape(32, 64)


def build_zips(folder, drop_colour: str | None = None):
    gt, photos = {"README": b"gtFine"}, {"README": b"leftImg8bit"}
    rng = np.random.default_rng(0)
    for split, frames in FRAMES.items():
        for frame in frames:
            city = frame.split("_")[0]
            ids = label_ids(zlib.crc32(frame.encode()))
            gt[f"gtFine/{split}/{city}/{frame}_gtFine_labelIds.png"] = image_bytes(ids, "PNG")
            gt[f"gtFine/{split}/{city}/{frame}_gtFine_instanceIds.png"] = image_bytes(ids, "PNG")
            if frame != drop_colour:
                colour = np.stack([ids * 7, ids * 3, 255 - ids * 5], axis=-1).astype(np.uint8)
                gt[f"gtFine/{split}/{city}/{frame}_gtFine_color.png"] = image_bytes(colour, "PNG")
            photo = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
            photos[f"leftImg8bit/{split}/{city}/{frame}_leftImg8bit.png"] = image_bytes(photo, "PNG")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gtFine_trainvaltest.zip").write_bytes(zip_bytes(gt))
    (folder / "leftImg8bit_trainvaltest.zip").write_bytes(zip_bytes(photos))
    return {name: label_ids(zlib.crc32(name.encode())) for frames in FRAMES.values() for name in frames}


def cityscapes_spec(tmp_path):
    body = entry(
        "gtFine_trainvaltest.zip",
        "https://www.cityscapes-dataset.com/file-handling/?packageID=1",
        recipe="cityscapes",
        labels="cityscapes_19",
        manual=True,
        splits={"train": 3, "test": 2},
    )
    body["archives"].append(
        {
            "file": "leftImg8bit_trainvaltest.zip",
            "format": "zip",
            "sha256": None,
            "url": "https://www.cityscapes-dataset.com/file-handling/?packageID=3",
        }
    )
    return spec_for(tmp_path / "params", "cityscapes", body)


def test_cityscapes_mini_tree(tmp_path):
    truth = build_zips(tmp_path / "mirror")
    spec = cityscapes_spec(tmp_path)
    data = tmp_path / "data"
    results = download_dataset(
        spec,
        data,
        mirror=(tmp_path / "mirror").as_uri(),
        policy=RetryPolicy(retries=0, backoff=0, timeout=5),
        log=lambda m: None,
    )
    assert [r.check for r in results] == ["recorded", "recorded"]
    manifest = prepare_dataset(spec, data, log=lambda m: None)
    prepared = prepared_dir("cityscapes", data)

    index = json.loads((prepared / "index_map.json").read_text())
    assert index == {
        "1": "aachen_000000_000019",
        "2": "aachen_000001_000019",
        "3": "bochum_000000_000313",
        "4": "frankfurt_000000_000294",
        "5": "lindau_000001_000019",
    }
    assert manifest["splits"] == {"train": 3, "test": 2} and manifest["image_size"] == [32, 32]
    assert sorted(p.name for p in (prepared / "test").iterdir()) == ["4.jpg", "5.jpg"]
    assert Image.open(prepared / "train" / "1.jpg").size == (64, 32)
    assert "index_map.json" in manifest["files"] and len(manifest["classes"]) == 19

    lut = np.full(256, 255, np.uint8)
    for label_id, train_id in TRAIN_IDS.items():
        lut[label_id] = train_id
    for stem, frame in index.items():
        split = "train" if int(stem) <= 3 else "test"
        label = Image.open(prepared / "labels" / split / f"{stem}.png")
        assert label.mode == "L" and label.size == (64, 32)  # full resolution, not 256
        assert np.array_equal(np.asarray(label), lut[truth[frame]])
    ids = truth["aachen_000000_000019"]
    mapped = np.asarray(Image.open(prepared / "labels" / "train" / "1.png"))
    assert (mapped[ids == 7] == 0).all() and (mapped[ids == 33] == 18).all() and (mapped[ids == 0] == 255).all()
    assert (mapped[ids == 6] == 255).all() and set(np.unique(mapped)) == set(range(19)) | {255}


def test_cityscapes_zips_copied_into_raw_and_mismatched_names(tmp_path):
    build_zips(tmp_path / "mirror", drop_colour="lindau_000001_000019")
    spec = cityscapes_spec(tmp_path)
    data = tmp_path / "data"
    raw = data / "cityscapes" / "raw"
    raw.mkdir(parents=True)
    for file in ("gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip"):
        shutil.copy(tmp_path / "mirror" / file, raw / file)
    with pytest.raises(DataError, match="val: gtFine colour files do not match.*lindau_000001_000019"):
        prepare_dataset(spec, data, log=lambda m: None)
    assert (data / "datasets.lock.json").is_file()  # the hand-copied zips were verified and locked


def test_cityscapes_without_the_zips_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="gtFine_trainvaltest.zip not found.*--mirror"):
        prepare_dataset(cityscapes_spec(tmp_path), tmp_path / "data", log=lambda m: None)
