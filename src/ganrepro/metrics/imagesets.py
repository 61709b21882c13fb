"""Image sets for the metrics: files paired by name, images held in memory, batching by size.

A metric sees uint8 RGB arrays (H, W, 3), exactly what a PNG on disk holds, whether the image comes from a
user's folder, a half of an aligned training pair, or a generator output quantised before scoring.  Pairing is
by file stem so that outputs of other implementations (``1_fake_B.png``) can be scored with a suffix strip,
and a mismatch between the sets is refused instead of silently scoring a subset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganrepro.errors import DataError
from ganrepro.images import list_images, load_image

#: A file, an array already in memory, or a loader called when the image is needed.
ImageSource = Path | np.ndarray | Callable[[], np.ndarray]


@dataclass(frozen=True)
class NamedImage:
    """An image source with the name that errors and per-image results quote."""

    name: str
    source: ImageSource

    def rgb(self) -> np.ndarray:
        return read_rgb(self.source, self.name)


def read_rgb(source: ImageSource, name: str = "<image>") -> np.ndarray:
    """uint8 (H, W, 3) from a file (decoded fully, errors name it), an array, or a loader."""
    if isinstance(source, (str, Path)):
        array = np.asarray(load_image(source, "RGB"))
    elif isinstance(source, np.ndarray):
        array = source
    else:
        array = source()
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise DataError(f"{name}: expected a uint8 RGB image, got {array.dtype} of shape {array.shape}")
    return array


def read_label(path: Path) -> np.ndarray:
    """A label map as class indices: a single-channel (L or P) PNG, read without any colour conversion."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "P", "I", "I;16"):
                raise DataError(f"label map {path} has mode {img.mode}; expected single-channel class indices")
            return np.asarray(img)
    except FileNotFoundError:
        raise DataError(f"label map not found: {path}") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"cannot decode label map {path}: {err}") from None


def stem_map(folder: Path, suffix: str = "") -> dict[str, Path]:
    """Images in ``folder`` keyed by stem minus ``suffix``; two files with one key are an error."""
    out: dict[str, Path] = {}
    for path in list_images(folder):
        stem = path.stem[: -len(suffix)] if suffix and path.stem.endswith(suffix) else path.stem
        if stem in out:
            raise DataError(f"{folder}: {out[stem].name} and {path.name} both give the name {stem!r}")
        out[stem] = path
    if not out:
        raise DataError(f"no images in {folder}")
    return out


def _describe_missing(names: Sequence[str], where: str) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(names)} missing from {where} ({shown})"


def pair_by_name(folders: dict[str, tuple[Path, str]]) -> list[str]:
    """The common names of several folders ({role: (folder, suffix)}); any difference is a :class:`DataError`."""
    from ganrepro.images import natural_key

    maps = {role: stem_map(folder, suffix) for role, (folder, suffix) in folders.items()}
    union = set().union(*maps.values())
    problems = [
        _describe_missing(sorted(union - set(m), key=lambda n: natural_key(Path(n))), f"{role} {folders[role][0]}")
        for role, m in maps.items()
        if union - set(m)
    ]
    if problems:
        raise DataError("image sets do not match by name: " + "; ".join(problems))
    return sorted(union, key=lambda n: natural_key(Path(n)))


def folder_images(folder: Path, names: Sequence[str], suffix: str = "") -> list[NamedImage]:
    """The named images of a folder in the given order (after :func:`pair_by_name`)."""
    mapping = stem_map(folder, suffix)
    return [NamedImage(name, mapping[name]) for name in names]


def batches(items: Sequence[NamedImage], batch_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """(names, uint8 array (N, H, W, 3)) batches; a new batch starts whenever the image size changes."""
    names: list[str] = []
    arrays: list[np.ndarray] = []
    for item in items:
        array = item.rgb()
        if arrays and (array.shape != arrays[0].shape or len(arrays) == batch_size):
            yield names, np.stack(arrays)
            names, arrays = [], []
        names.append(item.name)
        arrays.append(array)
    if arrays:
        yield names, np.stack(arrays)


def to_float_batch(array: np.ndarray, device: str = "cpu") -> object:
    """uint8 (N, H, W, 3) -> float32 tensor (N, 3, H, W) in [0, 1] (torchvision ToTensor's scaling)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
