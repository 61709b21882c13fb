"""A pack's batches: each member's own order and jitter, packed member-major on the training device.

Every member draws its batches exactly as its solo run would (:func:`~ganrepro.training.batches.batch_source`:
the device-resident split or a DataLoader, its seed's order and its (seed, epoch, item) crops and flips), so a
member sees the tensors its solo run sees, bit for bit.  Members of a pack read the same split (they may differ
only in seed and loss weights, :mod:`~ganrepro.training.packing`), so a resident split is decoded and kept on the
device once and shared: each member's view differs only in the seed its draws are made from.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset

from ganrepro.config import Config
from ganrepro.loading.resident import ResidentSplit
from ganrepro.training.batches import (
    BatchSource,
    LoaderBatches,
    ResidentBatches,
    keeps_resident,
)
from ganrepro.training.packed import PackedModel


def _split_key(config: Config, dataset: Any) -> tuple:
    """What decides a resident split's pixels: the files read and how they are decoded and resized."""
    files = (
        tuple(map(str, getattr(dataset, "files", ())))
        + tuple(map(str, getattr(dataset, "files_a", ())))
        + tuple(map(str, getattr(dataset, "files_b", ())))
    )
    transform = dataset.transform
    return type(dataset).__name__, files, repr(config.data), transform.load_size, transform.resize


def member_sources(configs: list[Config], datasets: list[Dataset], device: torch.device) -> list[BatchSource]:
    """One batch source per member; members reading the same split share its resident pixels."""
    splits: dict[tuple, ResidentSplit] = {}
    sources: list[BatchSource] = []
    for config, dataset in zip(configs, datasets):
        if not keeps_resident(config, dataset):
            sources.append(LoaderBatches(config, dataset, device))
            continue
        key = _split_key(config, dataset)
        if key not in splits:
            splits[key] = ResidentSplit(dataset, device)  # type: ignore[arg-type]
        split = copy.copy(splits[key])  # shares the pixel stacks; its own seed and epoch
        split.seed = dataset.seed  # type: ignore[attr-defined]
        sources.append(ResidentBatches(config, split))
    return sources


class PackBatches:
    """The members' batches of an epoch, zipped and packed into one member-major batch."""

    def __init__(self, model: PackedModel, sources: list[BatchSource]) -> None:
        self.model, self.sources = model, sources

    def epoch(self, epoch: int, skip_batches: int) -> Iterator[dict[str, torch.Tensor]]:
        for batches in zip(*(source.epoch(epoch, skip_batches) for source in self.sources)):
            yield self.model.pack_batch(list(batches))

    def batches(self, skip_batches: int) -> int:
        return self.sources[0].batches(skip_batches)
