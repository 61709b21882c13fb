"""The engine on a CUDA device (skipped without one): graphed = eager within float tolerance, graphed resume
= uninterrupted graphed run, and resident batches on the GPU = DataLoader batches.  Run by
benchmarks/gpu_check.sh."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import make_aligned, tiny_overrides

from ganrepro.config import load_config
from ganrepro.loading import build_dataset
from ganrepro.loading.resident import ResidentSplit
from ganrepro.training import checkpoint
from ganrepro.training.batches import LoaderBatches, ResidentBatches
from ganrepro.training.trainer import train

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[1]
CUDA = torch.device("cuda")
# 6 pairs x 2 epochs = 12 steps: 3 eager warm-up steps, then 9 replays of the captured step
MODELS = {
    "pix2pix": [],
    "cyclegan": [],
    "pix2pix-lua": ["reference=lua"],
    "cyclegan-lua": ["reference=lua"],
    "pix2pix-wgangp": ["pix2pix.gan_mode=wgangp"],
    "cyclegan-cycle-alone": ["cyclegan.use_gan=false"],
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_aligned(tmp_path / "data", "train", 6, seed=1)
    make_aligned(tmp_path / "data", "test", 2, seed=2)
    return tmp_path / "data"


def config(root: Path, name: str, *extra: str):
    model = name.split("-")[0]
    return load_config(
        ROOT / "params" / f"{model}.yaml",
        [*tiny_overrides(root, model), "train.n_epochs=2", "train.n_epochs_decay=0", *MODELS[name], *extra],
    )


def weights(run_dir: Path) -> dict:
    return checkpoint.load(run_dir / "checkpoints" / "latest.pt")["model"]["nets"]


@pytest.mark.parametrize("name", list(MODELS))
def test_graphed_training_gives_the_eager_weights(root: Path, tmp_path: Path, name: str) -> None:
    eager = weights(
        train(config(root, name, "train.cuda_graph=off"), tmp_path / "eager", "cuda", progress_bar=False).run_dir
    )
    graphed = weights(
        train(config(root, name, "train.cuda_graph=on"), tmp_path / "graphed", "cuda", progress_bar=False).run_dir
    )
    for net in eager:
        for key, value in eager[net].items():
            if value.is_floating_point():
                torch.testing.assert_close(graphed[net][key], value, rtol=1e-3, atol=1e-4, msg=f"{net}.{key}")


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan"])
def test_graphed_run_stopped_and_resumed_equals_uninterrupted(root: Path, tmp_path: Path, name: str) -> None:
    cfg = config(root, name, "train.cuda_graph=on")
    straight = weights(train(cfg, tmp_path / "straight", "cuda", progress_bar=False).run_dir)
    train(cfg, tmp_path / "resumed", "cuda", stop_after_epoch=1, progress_bar=False)
    resumed = weights(train(cfg, tmp_path / "resumed", "cuda", progress_bar=False).run_dir)
    for net in straight:
        for key, value in straight[net].items():
            assert torch.equal(resumed[net][key], value), f"{net}.{key}"


@pytest.mark.parametrize("reference", ["pytorch", "lua"])
def test_resident_batches_on_the_gpu_equal_the_dataloader(root: Path, reference: str) -> None:
    cfg = config(root, "pix2pix", f"reference={reference}", "train.batch_size=4")
    dataset = build_dataset(cfg, "train", augment=True)
    loader, resident = LoaderBatches(cfg, dataset, CUDA), ResidentBatches(cfg, ResidentSplit(dataset, CUDA))
    for epoch in range(2):
        for ours, theirs in zip(resident.epoch(epoch, 0), loader.epoch(epoch, 0), strict=True):
            assert ours["A"].is_cuda
            for key in ("A", "B"):
                assert torch.equal(ours[key].cpu(), theirs[key]), (epoch, key)
