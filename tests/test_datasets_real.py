"""The real pix2pix facades archive through a file:// mirror of the folder ``$GANREPRO_REAL_ARCHIVES`` names.

Skipped only when no such archive is there (``GANREPRO_REAL_ARCHIVES=/path/holding/facades.tar.gz`` runs it).
The variable is this test's own: ``GANREPRO_MIRROR`` would send every other test's downloads there too.
It runs the real download, checksum-lock, extraction and preparation code, then checks counts, the source
hash and every decoded label map.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from ganrepro.preparation.download import download_dataset
from ganrepro.preparation.labels import palette_array
from ganrepro.preparation.prepare import prepare_dataset
from ganrepro.preparation.registry import load_registry, prepared_dir

ARCHIVES = os.environ.get("GANREPRO_REAL_ARCHIVES", "")
ARCHIVE = Path(ARCHIVES or "/nonexistent") / "facades.tar.gz"
SHA256 = "a8b27a993e834395aabd712b5e23dd9357a2a07c12cbaf67704de8a22c25c6de"


NO_ARCHIVE = f"no facades.tar.gz in $GANREPRO_REAL_ARCHIVES ({ARCHIVES or 'unset'})"


@pytest.mark.skipif(not ARCHIVE.is_file(), reason=NO_ARCHIVE)
def test_real_facades_download_and_prepare(tmp_path):
    spec = load_registry()["facades"]
    [result] = download_dataset(spec, tmp_path, mirror=ARCHIVE.parent.as_uri(), log=lambda m: None)
    assert result.sha256 == SHA256 and result.check == "recorded"
    manifest = prepare_dataset(spec, tmp_path, log=lambda m: None)
    prepared = prepared_dir("facades", tmp_path)

    assert manifest["source_sha256"] == SHA256
    assert manifest["splits"] == {"train": 400, "test": 100} and manifest["image_size"] == [256, 256]
    assert any("differ from the official" in note for note in manifest["notes"])
    assert len(manifest["files"]) == 1000  # 500 pairs + 500 label maps

    palette = palette_array(spec.labels)
    interior_hits = interior_total = 0
    for split, count in (("train", 400), ("test", 100)):
        for i in range(1, count + 1):
            pair = np.asarray(Image.open(prepared / split / f"{i}.jpg"))
            assert pair.shape == (256, 512, 3)
            label = Image.open(prepared / "labels" / split / f"{i}.png")
            labels = np.asarray(label)
            assert label.mode == "L" and labels.shape == (256, 256) and labels.max() < 12
            # every colour of the B half is near the palette colour of its decoded class, away from the
            # 1-2 pixel JPEG chroma smear at class boundaries (see ganrepro.preparation.labels)
            colours = pair[:, 256:].astype(np.int32)
            distance = np.sqrt(((colours - palette[labels]) ** 2).sum(-1))
            interior = ndimage.maximum_filter(labels, 5) == ndimage.minimum_filter(labels, 5)
            hits = int((distance[interior] <= 30).sum())
            assert hits >= 0.95 * interior.sum(), f"{split}/{i}.jpg: colours far from the palette"
            interior_hits += hits
            interior_total += int(interior.sum())
    assert interior_hits >= 0.98 * interior_total
    assert manifest["label_decoding"]["within_30"] >= 0.75
