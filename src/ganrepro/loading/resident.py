"""The training split kept on the training device: decoded and resized once, cropped and flipped by indexing.

Decoding a PNG and resizing it on the host every step costs more than a pix2pix step on a GPU.  A
:class:`ResidentSplit` decodes every item once, resizes it once to ``load_size`` exactly as
:class:`~ganrepro.loading.jitter.ImageTransform` does for the run's ``reference`` (PIL bicubic to uint8 for the
port; ``lua_scale`` in float32, already mapped to [-1, 1], for the Lua code), and keeps the stack on the
device.  Each step then takes the crop and flip that the dataset would have drawn, from the same
``item_rng(seed, epoch, index)`` in the same order, so the tensors a step sees are bit-identical to the
DataLoader path's:

* uint8 pixels become floats through a 256-entry table computed on the host with the dataset's own formula
  (``x / 127.5 - 1``), so the device's division (CUDA divides by a scalar as a multiplication by its
  reciprocal) never enters;
* for ``lua`` the stored floats are the dataset's normalised floats; crop and flip only index them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from PIL import Image

from ganrepro.loading.aligned import AlignedDataset
from ganrepro.loading.jitter import ImageTransform, Jitter, item_rng
from ganrepro.loading.resize import lua_scale, pil_bicubic
from ganrepro.loading.unaligned import UnalignedDataset

ResidentSource = AlignedDataset | UnalignedDataset


def resident_bytes(dataset: ResidentSource, channels: tuple[int, int]) -> int:
    """What the split will take on the device, known before decoding anything (for the memory budget)."""
    transform = dataset.transform
    per_pixel = 1 if transform.resize == "pil_bicubic" else 4
    count_a, count_b = (
        (len(dataset), len(dataset))
        if isinstance(dataset, AlignedDataset)
        else (len(dataset.files_a), len(dataset.files_b))
    )
    area = transform.load_size**2 * per_pixel
    return area * (count_a * channels[0] + count_b * channels[1])


def resized(transform: ImageTransform, image: Image.Image) -> torch.Tensor:
    """One decoded image at ``load_size`` as (C, L, L): uint8 (port) or float32 in [-1, 1] (Lua)."""
    if transform.resize == "pil_bicubic":
        array = np.asarray(pil_bicubic(image, transform.load_size), dtype=np.uint8)
        array = array if array.ndim == 3 else array[:, :, None]
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    array = np.asarray(image, dtype=np.float32) / np.float32(255)
    array = lua_scale(array if array.ndim == 3 else array[:, :, None], transform.load_size)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1))) * 2.0 - 1.0


class ResidentSplit:
    """Training batches of an aligned or unaligned split, drawn on ``device`` without touching the disk."""

    def __init__(self, dataset: ResidentSource, device: torch.device) -> None:
        if not dataset.augment:
            raise ValueError("a resident split serves training batches; build the dataset with augment=True")
        self.transform: ImageTransform = dataset.transform
        self.seed = dataset.seed
        self.paired = isinstance(dataset, AlignedDataset)
        self.device = device
        if isinstance(dataset, AlignedDataset):
            pairs = [dataset.images(i) for i in range(len(dataset))]
            self.images_a = self._stack(a for a, _ in pairs)
            self.images_b = self._stack(b for _, b in pairs)
        else:
            self.images_a = self._stack(dataset.side(p, "A") for p in dataset.files_a)
            self.images_b = self._stack(dataset.side(p, "B") for p in dataset.files_b)
        self.length = len(dataset)
        # uint8 -> [-1, 1] by lookup, the values computed by the dataset's own expression on the host
        self.table = (torch.arange(256, dtype=torch.float32) / 127.5 - 1.0).to(device)
        self.epoch = 0

    def _stack(self, images: Iterable[Image.Image]) -> torch.Tensor:
        return torch.stack([resized(self.transform, image) for image in images]).to(self.device)

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _crop(self, image: torch.Tensor, jitter: Jitter) -> torch.Tensor:
        size = self.transform.crop_size
        out = image[:, jitter.crop_y : jitter.crop_y + size, jitter.crop_x : jitter.crop_x + size]
        out = out.flip(-1) if jitter.flip else out
        return self.table[out.long()] if out.dtype == torch.uint8 else out

    def item(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Item ``index`` of the current epoch, drawn as the datasets draw it (B index first when unpaired)."""
        rng = item_rng(self.seed, self.epoch, index)
        if self.paired:
            jitter = self.transform.draw(rng)
            return self._crop(self.images_a[index], jitter), self._crop(self.images_b[index], jitter)
        b_index = int(rng.integers(self.images_b.shape[0]))
        a = self._crop(self.images_a[index % self.images_a.shape[0]], self.transform.draw(rng))
        return a, self._crop(self.images_b[b_index], self.transform.draw(rng))

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        items = [self.item(i) for i in indices]
        return {"A": torch.stack([a for a, _ in items]), "B": torch.stack([b for _, b in items])}
