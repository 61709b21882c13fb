"""Where a training step's batch comes from: the device-resident split or a DataLoader.

Both sources follow the same order (:class:`~ganrepro.loading.sampler.EpochSampler`, a function of seed and
epoch) and the same per-item draws, so switching between them changes speed, never the numbers.
``data.resident`` picks: ``auto`` keeps the split resident when it fits ``data.resident_budget_mb``, ``on``
always does, ``off`` never does (and a dataset handed to the trainer directly is always read through a
DataLoader, since it may compute its items in any way).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch.utils.data import DataLoader, Dataset

from ganrepro.config import Config
from ganrepro.loading.aligned import AlignedDataset
from ganrepro.loading.resident import ResidentSplit, resident_bytes
from ganrepro.loading.sampler import EpochSampler
from ganrepro.loading.unaligned import UnalignedDataset


class BatchSource(Protocol):
    kind: str

    def epoch(self, epoch: int, skip_batches: int) -> Iterator[dict[str, torch.Tensor]]: ...

    def batches(self, skip_batches: int) -> int: ...


class _Ordered:
    """The epoch order shared by both sources, with the batches already trained on left out."""

    def __init__(self, config: Config, length: int) -> None:
        self.batch_size = config.train.batch_size
        self.sampler = EpochSampler(length, config.seed)

    def batches(self, skip_batches: int) -> int:
        remaining = self.sampler.length - skip_batches * self.batch_size
        return max(0, -(-remaining // self.batch_size))


class LoaderBatches(_Ordered):
    """A DataLoader per epoch: worker processes (``data.num_workers``) decode, pinned memory on CUDA."""

    kind = "dataloader"

    def __init__(self, config: Config, dataset: Dataset, device: torch.device) -> None:
        super().__init__(config, len(dataset))
        self.config, self.dataset, self.device = config, dataset, device

    def epoch(self, epoch: int, skip_batches: int) -> Iterator[dict[str, torch.Tensor]]:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch, skip=skip_batches * self.batch_size)
        # The loader draws its worker base seed from this generator, not from the global RNG, so
        # re-creating it after a mid-epoch resume does not shift the dropout stream.
        workers = self.config.data.num_workers
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch),
        )
        return iter(loader)


class ResidentBatches(_Ordered):
    """Batches indexed out of a :class:`ResidentSplit` on the training device."""

    kind = "resident"

    def __init__(self, config: Config, split: ResidentSplit) -> None:
        super().__init__(config, len(split))
        self.split = split

    def epoch(self, epoch: int, skip_batches: int) -> Iterator[dict[str, torch.Tensor]]:
        self.split.set_epoch(epoch)
        self.sampler.set_epoch(epoch, skip=skip_batches * self.batch_size)
        order = list(self.sampler)
        for start in range(0, len(order), self.batch_size):
            yield self.split.batch(order[start : start + self.batch_size])


def keeps_resident(config: Config, dataset: Dataset) -> bool:
    """Whether ``data.resident`` and its budget put this split on the device."""
    mode = config.data.resident
    if mode == "off" or not isinstance(dataset, (AlignedDataset, UnalignedDataset)) or not dataset.augment:
        return False
    if mode == "on":
        return True
    size = resident_bytes(dataset, (config.data.input_nc, config.data.output_nc))
    return size <= config.data.resident_budget_mb * 2**20


def batch_source(config: Config, dataset: Dataset, device: torch.device) -> BatchSource:
    if keeps_resident(config, dataset):
        return ResidentBatches(config, ResidentSplit(dataset, device))  # type: ignore[arg-type]
    return LoaderBatches(config, dataset, device)
