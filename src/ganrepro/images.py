"""Reading and writing images with errors that name the file, and tensor <-> uint8 conversion.

Images travel through the project as float tensors in [-1, 1] (C, H, W), as the papers' Tanh output does.
Generated images are written as PNG (never JPEG) so that metrics see exactly what the generator produced.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganrepro.atomic import atomic_path
from ganrepro.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def is_image_file(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, in a natural order (``2.jpg`` before ``10.jpg``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.is_file() and is_image_file(p)]
    return sorted(files, key=natural_key)


def natural_key(path: Path) -> tuple:
    """Sort key that orders embedded numbers numerically."""
    import re

    parts = re.split(r"(\d+)", path.name)
    return tuple(int(p) if p.isdigit() else p for p in parts)


def load_image(path: str | os.PathLike[str], mode: str = "RGB") -> Image.Image:
    """Decode an image fully (so truncated files fail here, naming the file) and convert it to ``mode``."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert(mode) if img.mode != mode else img.copy()
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"cannot decode image {path}: {err}") from None


def to_uint8(tensor, rounding: str = "nearest") -> np.ndarray:
    """(C, H, W) float tensor in [-1, 1] -> (H, W, C) uint8 array.

    ``nearest`` rounds (exact for images that were uint8 to begin with, e.g. targets and inputs); ``truncate``
    drops the fraction as both reference codes do when they save generated images (the Lua ``image.save`` and
    the port's ``tensor2im`` scale to [0, 255] and cast).
    """
    array = tensor.detach().float().cpu().clamp(-1, 1).numpy()
    if rounding == "truncate":
        array = np.floor((array + 1.0) / 2.0 * 255.0).astype(np.uint8)
    elif rounding == "nearest":
        array = np.rint((array + 1.0) * 127.5).astype(np.uint8)
    else:
        raise ValueError(f"unknown rounding {rounding!r}")
    return np.transpose(array, (1, 2, 0)) if array.ndim == 3 else array


def save_png(image: Image.Image | np.ndarray, target: str | os.PathLike[str]) -> None:
    """Write a PNG atomically."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image.squeeze(-1) if image.ndim == 3 and image.shape[-1] == 1 else image)
    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG")
