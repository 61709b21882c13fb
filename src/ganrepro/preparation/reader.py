"""What the metrics read from a prepared dataset: its manifest, its real photos and its label maps.

A prepared dataset (``ganrepro prepare``) holds aligned A|B pairs per split, label maps
``labels/{split}/{stem}.png`` (class indices, 255 = ignore, at the label's native resolution) and
``manifest.json`` (classes, ignore_index, photo_side, labels_to_photo, data_hash, image_size).  The photo of
each pair is the ``photo_side`` half; it is the segmenter's training input and the 'ground truth' row's input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ganrepro.errors import DataError
from ganrepro.images import list_images, load_image
from ganrepro.loading.aligned import split_pair
from ganrepro.metrics.imagesets import NamedImage
from ganrepro.preparation.manifest import load_manifest as data_layer_load
from ganrepro.preparation.registry import prepared_dir

REQUIRED_KEYS = ("name", "classes", "ignore_index", "photo_side", "data_hash")


def resolve_prepared(dataset: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None) -> Path:
    """A prepared folder from a dataset name (``{data_dir}/{name}/prepared``) or a path to one."""
    candidate = Path(dataset)
    if (candidate / "manifest.json").is_file():
        return candidate
    path = Path(prepared_dir(str(dataset), data_dir))
    if not (path / "manifest.json").is_file():
        raise DataError(
            f"no prepared dataset at {path} (manifest.json missing); run `ganrepro prepare {dataset}` first"
        )
    return path


def load_manifest(prepared: Path) -> dict[str, Any]:
    """The data layer's manifest (integrity-checked there), checked for the keys the metrics use."""
    manifest = dict(data_layer_load(prepared))
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise DataError(f"{prepared}/manifest.json lacks {', '.join(missing)}")
    if manifest["photo_side"] not in ("A", "B"):
        raise DataError(f"{prepared}/manifest.json: photo_side must be 'A' or 'B', got {manifest['photo_side']!r}")
    return manifest


def image_size(manifest: dict[str, Any]) -> int:
    """The side of the prepared (square) photos, from ``image_size`` (an int or [h, w])."""
    size = manifest.get("image_size", 256)
    if isinstance(size, (list, tuple)):
        if len(set(size)) != 1:
            raise DataError(f"non-square image_size {size}: give --size explicitly")
        size = size[0]
    return int(size)


def _photo_half(path: Path, side: str) -> np.ndarray:
    left, right = split_pair(path, load_image(path, "RGB"))
    return np.asarray(left if side == "A" else right)


def photos(prepared: Path, split: str, manifest: dict[str, Any]) -> list[NamedImage]:
    """The real photos of a split (lazily cut from the aligned pairs), named by the pair's stem."""
    folder = prepared / split
    side = manifest["photo_side"]
    return [NamedImage(p.stem, lambda p=p: np.ascontiguousarray(_photo_half(p, side))) for p in list_images(folder)]


def label_paths(prepared: Path, split: str, names: list[str]) -> dict[str, Path]:
    """``labels/{split}/{name}.png`` for every name; all must exist (no image is skipped)."""
    folder = prepared / "labels" / split
    paths = {name: folder / f"{name}.png" for name in names}
    missing = [n for n, p in paths.items() if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} label maps missing in {folder} (e.g. {missing[0]}.png)")
    return paths
