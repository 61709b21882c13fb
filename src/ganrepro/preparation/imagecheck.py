"""Decoding every source image once, strictly, so that a bad file stops preparation with its path.

A truncated JPEG deep inside a training set otherwise surfaces hours later as a crash in a DataLoader
worker, or worse, as a silently grey image (when some library has switched on Pillow's
``LOAD_TRUNCATED_IMAGES``).  Here every image is fully decoded with truncation errors forced on, its mode is
recorded (non-RGB images are converted by the caller, with a note), and aligned pairs must be exactly 2:1.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from ganrepro.errors import DataError


@dataclass
class CheckedImage:
    """A fully decoded image: its original mode and format, and its pixels as RGB uint8 (H, W, 3)."""

    path: Path
    mode: str
    format: str | None
    rgb: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]


@contextlib.contextmanager
def _strict_decoding() -> Iterator[None]:
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _decode(path: Path, convert: Callable[[Image.Image], tuple[str, str | None, np.ndarray]]):
    """Open and fully decode ``path`` under strict settings; every failure becomes a DataError naming it."""
    try:
        with _strict_decoding(), Image.open(path) as img:
            img.load()
            return convert(img)
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as err:
        raise DataError(f"{path}: cannot decode image ({err})") from None


def read_checked(path: str | os.PathLike[str]) -> CheckedImage:
    """Decode ``path`` completely as RGB (remembering its original mode); DataError names the file."""
    path = Path(path)
    mode, fmt, rgb = _decode(
        path, lambda img: (img.mode, img.format, np.asarray(img.convert("RGB") if img.mode != "RGB" else img))
    )
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise DataError(f"{path}: unexpected image shape {rgb.shape}")
    return CheckedImage(path, mode, fmt, rgb)


def read_label_ids(path: str | os.PathLike[str]) -> np.ndarray:
    """A single-channel integer label image (e.g. Cityscapes ``*_labelIds.png``) as a 2-D array."""
    path = Path(path)
    mode, _, ids = _decode(path, lambda img: (img.mode, img.format, np.asarray(img)))
    if mode not in ("L", "P", "I", "I;16") or ids.ndim != 2:
        raise DataError(f"{path}: label id image must be single-channel (L/I/I;16), got mode {mode}")
    return ids


def check_pair(image: CheckedImage) -> None:
    """An aligned A|B pair must be exactly twice as wide as high (and of even width)."""
    width, height = image.size
    if width != 2 * height:
        raise DataError(f"{image.path}: aligned pair must be exactly 2:1 (A|B side by side), got {width}x{height}")


def halves(image: CheckedImage) -> tuple[np.ndarray, np.ndarray]:
    """(A, B): the left and right halves of a checked pair."""
    h = image.rgb.shape[0]
    return image.rgb[:, :h], image.rgb[:, h:]
