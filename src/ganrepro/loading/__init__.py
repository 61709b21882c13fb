"""Torch datasets the trainers read: aligned pairs (pix2pix) and unaligned domains (CycleGAN).

(Downloading and preparing the raw archives into these layouts is :mod:`ganrepro.preparation`.)
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from ganrepro.config import Config
from ganrepro.errors import DataError
from ganrepro.loading.aligned import AlignedDataset
from ganrepro.loading.jitter import ImageTransform
from ganrepro.loading.unaligned import UnalignedDataset

__all__ = ["AlignedDataset", "UnalignedDataset", "build_dataset"]


def build_dataset(config: Config, split: str = "train", augment: bool = True) -> Dataset:
    """The dataset a model trains or is evaluated on.

    pix2pix reads aligned ``{root}/{split}/``.  CycleGAN trains unpaired (``{split}A/``/``{split}B/`` or the
    halves of aligned images, see :class:`UnalignedDataset`); for evaluation (``augment=False``) it reads the
    aligned pairs when they exist, so that outputs can be scored against their ground truth.
    """
    root = Path(config.data.root)
    if not root.is_dir():
        raise DataError(f"data.root {root} does not exist; prepare a dataset first (ganrepro prepare NAME)")
    max_items = config.data.max_items if split == "train" else None
    transform = ImageTransform.of(config)
    aligned_folder = root / split
    use_aligned = config.model == "pix2pix" or (not augment and aligned_folder.is_dir())
    if use_aligned:
        if not aligned_folder.is_dir():
            raise DataError(f"aligned split folder not found: {aligned_folder}")
        return AlignedDataset(
            aligned_folder, config.data, seed=config.seed, augment=augment, max_items=max_items, transform=transform
        )
    return UnalignedDataset(
        root, split, config.data, seed=config.seed, augment=augment, max_items=max_items, transform=transform
    )
