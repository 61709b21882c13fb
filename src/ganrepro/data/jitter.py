"""The papers' random jitter: resize to ``load_size`` (bicubic), random ``crop_size`` crop, horizontal flip.

Randomness comes from a NumPy generator seeded by (seed, epoch, item index), never from global state, so an
item's augmentation is the same whichever worker loads it and whether or not the run was resumed mid-epoch.
For aligned pairs one draw is shared by A and B so that the two halves stay registered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Jitter:
    """One draw of the augmentation parameters."""

    crop_x: int
    crop_y: int
    flip: bool


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one item in one epoch: independent of loading order and of workers."""
    return np.random.default_rng([seed, epoch, index])


def draw_jitter(rng: np.random.Generator, load_size: int, crop_size: int, flip: bool) -> Jitter:
    span = load_size - crop_size
    x = int(rng.integers(0, span + 1))
    y = int(rng.integers(0, span + 1))
    mirrored = bool(flip and rng.random() < 0.5)
    return Jitter(crop_x=x, crop_y=y, flip=mirrored)


def apply_jitter(image: Image.Image, jitter: Jitter | None, load_size: int, crop_size: int) -> Image.Image:
    """Resize + crop + flip; without jitter (evaluation) resize straight to the crop size, deterministically."""
    if jitter is None:
        return _resize(image, crop_size)
    image = _resize(image, load_size)
    box = (jitter.crop_x, jitter.crop_y, jitter.crop_x + crop_size, jitter.crop_y + crop_size)
    image = image.crop(box)
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if jitter.flip else image


def _resize(image: Image.Image, size: int) -> Image.Image:
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.Resampling.BICUBIC)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image (RGB or L) -> float tensor (C, H, W) normalised to [-1, 1] like the generators' Tanh."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(array.transpose(2, 0, 1).copy())
    return tensor / 127.5 - 1.0
