"""Helpers for the metrics tests: a tiny prepared dataset in the data layer's format, a small feature extractor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

PALETTE = np.array([[20, 20, 160], [60, 120, 250], [240, 230, 30], [170, 20, 20]], dtype=np.float64)
CLASSES = ["background", "facade", "window", "door"]


def make_labels(rng: np.random.Generator, size: int) -> np.ndarray:
    """A blocky class map with every class present, plus a strip of ignore (255) pixels."""
    blocks = rng.permutation(np.tile(np.arange(4), 4)).reshape(4, 4)
    labels = np.kron(blocks, np.ones((size // 4, size // 4), dtype=np.int64)).astype(np.uint8)
    labels[:, :2] = 255
    return labels


def make_prepared(root: Path, n_train: int = 6, n_test: int = 3, size: int = 32, seed: int = 0) -> Path:
    """``root/prepared`` with aligned pairs (photo = A, label colours = B), labels/{split}/ and manifest.json."""
    prepared = root / "prepared"
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("test", n_test)):
        (prepared / split).mkdir(parents=True, exist_ok=True)
        (prepared / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(1, count + 1):
            labels = make_labels(rng, size)
            colour = PALETTE[np.minimum(labels, 3)]
            photo = np.clip(255 - colour * 0.8 + rng.normal(0, 10, colour.shape), 0, 255)
            pair = np.concatenate([photo, colour], axis=1).astype(np.uint8)
            Image.fromarray(pair).save(prepared / split / f"{i}.png")
            Image.fromarray(labels, mode="L").save(prepared / "labels" / split / f"{i}.png")
    manifest = {
        "name": "tiny",
        "kind": "synthetic",
        "source_sha256": None,
        "classes": CLASSES,
        "ignore_index": 255,
        "photo_side": "A",
        "labels_to_photo": "BtoA",
        "splits": {"train": n_train, "test": n_test},
        "image_size": size,
        "notes": "made by tests/metrics_helpers.py",
    }
    manifest["files"], manifest["data_hash"] = tree_hash(prepared)
    (prepared / "manifest.json").write_text(json.dumps(manifest))
    return prepared


def prepare_dataset(data_dir: Path, n_train: int = 4, n_test: int = 3, size: int = 32) -> Path:
    """A small synthetic facades set made by the data layer's ``ganrepro prepare synthetic``."""
    from ganrepro.cli import main

    args = [
        "prepare",
        "synthetic",
        "--data-dir",
        str(data_dir),
        "--size",
        str(size),
        "--train",
        str(n_train),
        "--test",
        str(n_test),
    ]
    assert main(args) == 0
    return data_dir / "synthetic" / "prepared"


def manifest_hash(prepared: Path) -> str:
    return json.loads((prepared / "manifest.json").read_text())["data_hash"]


def tree_hash(prepared: Path) -> tuple[dict[str, str], str]:
    """(files, data_hash) as the data layer's manifest records them."""
    from ganrepro.preparation.manifest import data_hash, hash_tree

    files = hash_tree(prepared)
    return files, data_hash(files)


class MeanColourNet:
    """A deterministic 'feature extractor' module: per-channel means and standard deviations, plus a fixed
    random projection of a 4x4 pooled image (22-d features).  Cheap and sensitive to image content."""

    def __init__(self) -> None:
        import torch

        self.projection = torch.from_numpy(np.random.default_rng(0).normal(size=(48, 16))).float()

    def to(self, device: str) -> MeanColourNet:
        return self

    def eval(self) -> MeanColourNet:
        return self

    def __call__(self, x):
        import torch
        import torch.nn.functional as F

        pooled = F.adaptive_avg_pool2d(x, (4, 4)).flatten(1)
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), pooled @ self.projection], dim=1)


def small_extractor():
    from ganrepro.metrics.inception import FeatureExtractor

    return FeatureExtractor(MeanColourNet(), "test-mean-colour", {"network": "test mean colour (22-d)"})


def write_images(folder: Path, names: list[str], seed: int, size: int = 32, shift: float = 0.0) -> list[np.ndarray]:
    """Random smooth RGB PNGs (optionally brightened by ``shift``) named ``names``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        base = rng.uniform(0, 200, size=(size // 8, size // 8, 3))
        image = np.kron(base, np.ones((8, 8, 1))) + rng.normal(0, 8, size=(size, size, 3)) + shift
        image = np.clip(image, 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{name}.png")
        out.append(image)
    return out
