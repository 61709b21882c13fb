"""Shared fixtures: tiny aligned/unaligned datasets made by the tests and tiny configs that train in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` run only where CUDA is available (CI is CPU-only)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def make_aligned(root: Path, split: str, count: int, size: int = 32, seed: int = 0) -> Path:
    """``count`` A|B pairs: B is a blocky 'label map', A a noisy colouring of it (a learnable mapping)."""
    rng = np.random.default_rng(seed)
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        blocks = rng.integers(0, 4, size=(4, 4))
        labels = np.kron(blocks, np.ones((size // 4, size // 4), dtype=np.int64))
        palette = np.array([[0, 0, 170], [0, 85, 255], [255, 255, 0], [170, 0, 0]], dtype=np.float64)
        b = palette[labels]
        a = np.clip(255 - b * 0.7 + rng.normal(0, 12, size=b.shape), 0, 255)
        pair = np.concatenate([a, b], axis=1).astype(np.uint8)
        Image.fromarray(pair).save(folder / f"{i + 1}.png")
    return folder


@pytest.fixture
def aligned_root(tmp_path: Path) -> Path:
    root = tmp_path / "aligned"
    make_aligned(root, "train", 4, seed=1)
    make_aligned(root, "test", 2, seed=2)
    return root


class Poisoned:
    """A training set whose target B is ``value`` (nan/inf) for the items in ``items`` (all when None): a loss that
    stops being finite at a known step."""

    def __init__(self, base, value: float, items: set[int] | None = None) -> None:
        self.base, self.value, self.items = base, value, items

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        import torch

        item = dict(self.base[i])
        if self.items is None or i in self.items:
            item["B"] = torch.full_like(item["B"], self.value)
        return item


def tiny_overrides(root: Path, model: str = "pix2pix") -> list[str]:
    """Overrides that make a config train in about a second per epoch on one CPU core."""
    common = [
        f"data.root={root}",
        "data.load_size=36",
        "data.crop_size=32",
        "network.ngf=8",
        "network.ndf=8",
        "train.n_epochs=1",
        "train.n_epochs_decay=1",
        "train.sample_count=2",
        "train.sample_every_steps=0",
        "train.latest_every_steps=0",
        "train.checkpoint_every_epochs=1",
    ]
    if model == "pix2pix":
        return ["model=pix2pix", "network.generator=unet_32", "network.discriminator=patch16", *common]
    return [
        "model=cyclegan",
        "network.generator=resnet_2blocks",
        "network.discriminator=patch16",
        "network.norm=instance",
        "cyclegan.pool_size=3",
        *common,
    ]
