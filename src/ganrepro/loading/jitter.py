"""The papers' random jitter: resize to ``load_size``, random ``crop_size`` crop, horizontal flip.

Randomness comes from a NumPy generator seeded by (seed, epoch, item index), never from global state, so an
item's augmentation is the same whichever worker loads it and whether or not the run was resumed mid-epoch.
For aligned pairs one draw is shared by A and B so that the two halves stay registered.

How the resize is done and which crop offsets can be drawn depend on the config's ``reference``
(:mod:`ganrepro.fidelity`): the port resizes uint8 images with PIL bicubic and draws offsets 0 … load − crop;
the Lua code scales float images bilinearly (:func:`~ganrepro.loading.resize.lua_scale`) and draws 1 … load − crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ganrepro.config import Config
from ganrepro.fidelity import Fidelity
from ganrepro.loading.resize import lua_scale, pil_bicubic


@dataclass(frozen=True)
class Jitter:
    """One draw of the augmentation parameters."""

    crop_x: int
    crop_y: int
    flip: bool


@dataclass(frozen=True)
class ImageTransform:
    """Everything that turns a decoded image into a network input, from one config."""

    load_size: int
    crop_size: int
    flip: bool
    resize: str = "pil_bicubic"
    crop_min: int = 0

    @classmethod
    def of(cls, config: Config) -> ImageTransform:
        fidelity = Fidelity.of(config)
        d = config.data
        return cls(d.load_size, d.crop_size, d.flip, fidelity.resize, fidelity.crop_min)

    def draw(self, rng: np.random.Generator) -> Jitter:
        span = self.load_size - self.crop_size
        low = min(self.crop_min, span)
        x = int(rng.integers(low, span + 1))
        y = int(rng.integers(low, span + 1))
        mirrored = bool(self.flip and rng.random() < 0.5)
        return Jitter(crop_x=x, crop_y=y, flip=mirrored)

    def __call__(self, image: Image.Image, jitter: Jitter | None) -> torch.Tensor:
        """Resize + crop + flip + normalise to [-1, 1].

        Without jitter (evaluation, sample grids) the image is resized straight to the crop size with PIL bicubic
        under either reference, so every row of a table and the FCN-score's ground-truth row see the same real
        images; at the papers' settings the stored images already have the crop size and nothing is resized.
        """
        if self.resize == "pil_bicubic" or jitter is None:
            return to_tensor(apply_jitter(image, jitter, self.load_size, self.crop_size))
        array = np.asarray(image, dtype=np.float32) / np.float32(255)
        array = lua_scale(array if array.ndim == 3 else array[:, :, None], self.load_size)
        array = array[jitter.crop_y : jitter.crop_y + self.crop_size, jitter.crop_x : jitter.crop_x + self.crop_size]
        if jitter.flip:
            array = array[:, ::-1]
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
        return tensor * 2.0 - 1.0


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one item in one epoch: independent of loading order and of workers."""
    return np.random.default_rng([seed, epoch, index])


def apply_jitter(image: Image.Image, jitter: Jitter | None, load_size: int, crop_size: int) -> Image.Image:
    """The port's resize (PIL bicubic) + crop + flip on a PIL image."""
    if jitter is None:
        return pil_bicubic(image, crop_size)
    image = pil_bicubic(image, load_size)
    box = (jitter.crop_x, jitter.crop_y, jitter.crop_x + crop_size, jitter.crop_y + crop_size)
    image = image.crop(box)
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if jitter.flip else image


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image (RGB or L) -> float tensor (C, H, W) normalised to [-1, 1] like the generators' Tanh."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(array.transpose(2, 0, 1).copy())
    return tensor / 127.5 - 1.0
