"""A solo training run (pix2pix or CycleGAN): build, claim, resume, then the shared loop
(:mod:`~ganrepro.training.loop`) with this run's side of it (:class:`SoloWork`).

Resuming is exact: the data order is a function of (seed, epoch), augmentation of (seed, epoch, item), and
the checkpoint holds the optimisers, schedulers, pools and RNG states; so stopping after epoch 1 and
running the same command again ends with the same weights, bit for bit on CPU, as one uninterrupted run.
SIGTERM/SIGINT (e.g. a cluster's time limit) save ``latest.pt`` at the next step boundary and stop cleanly.

The loop itself never waits for the device: batches come from the device-resident split or a DataLoader
(:mod:`~ganrepro.training.batches`), steps run eagerly or as one CUDA graph (:mod:`~ganrepro.training.graphs`),
losses are read in blocks (:mod:`~ganrepro.training.losslog`, which also holds the non-finite guard) and
checkpoints are written by a background thread (:mod:`~ganrepro.training.async_checkpoint`).  Sample grids
and the loss plot are drawn at their configured intervals and at the end, not at every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, default_collate

from ganrepro.config import Config
from ganrepro.devices import resolve_device
from ganrepro.errors import UserError
from ganrepro.loading import build_dataset
from ganrepro.training import checkpoint, graphs, rundir
from ganrepro.training.base import GANModel
from ganrepro.training.batches import BatchSource, batch_source
from ganrepro.training.loop import EngineWork, run_epochs
from ganrepro.training.losslog import LossLog
from ganrepro.training.rng import restore_rng_state, seed_everything
from ganrepro.training.runlock import locked
from ganrepro.training.samples import plot_losses, side_effect_free, write_grid


@dataclass
class TrainResult:
    run_dir: Path
    progress: checkpoint.Progress
    completed: bool


def build_model(config: Config, device: torch.device) -> GANModel:
    if config.model == "pix2pix":
        from ganrepro.training.pix2pix import Pix2PixModel

        return Pix2PixModel(config, device)
    from ganrepro.training.cyclegan import CycleGANModel

    return CycleGANModel(config, device)


def state_bytes(config: Config) -> int:
    """Bytes of one run's training state in its checkpoint: every network's parameters (float32) three times (the
    weights and Adam's two moments) and its buffers.  Counted on the meta device, allocating nothing, so that the
    workflow can size a pack's job before it runs: the pack's checkpoint writer holds one such host snapshot per
    member (:mod:`~ganrepro.training.pack`)."""
    meta = torch.device("meta")
    with meta:
        model = build_model(config, meta)
    tensors = [(3, p) for net in model.nets.values() for p in net.parameters()]
    tensors += [(1, b) for net in model.nets.values() for b in net.buffers()]
    return sum(copies * t.numel() * t.element_size() for copies, t in tensors)


def train(
    config: Config,
    run_dir: str | Path,
    device: str = "auto",
    *,
    stop_after_epoch: int | None = None,
    dataset: Dataset | None = None,
    progress_bar: bool = True,
) -> TrainResult:
    """Train ``config`` into ``run_dir``, resuming from ``checkpoints/latest.pt`` when it exists.

    Everything that can be refused (the device, the run directory, the data) is checked before anything is
    written; the run directory is locked for the whole run and claimed (config.yaml written) only once the
    model is built, so a refused or failed start never ties ``run_dir`` to a config.
    """
    run_dir = Path(run_dir)
    if stop_after_epoch is not None and stop_after_epoch < 1:
        raise UserError(f"--stop-after-epoch must be >= 1, got {stop_after_epoch}")
    dev = torch.device(resolve_device(device))
    rundir.check_claim(run_dir, config)
    train_set = dataset if dataset is not None else build_dataset(config, "train", augment=True)
    sample_batch = _fixed_sample_batch(config)
    with locked(run_dir) as lock:
        seed_everything(config.seed)
        model = build_model(config, dev)  # weights drawn from the freshly seeded global RNG
        resume = rundir.claim(run_dir, config)
        lock.claimed = True
        return _run(config, run_dir, dev, model, train_set, sample_batch, resume, stop_after_epoch, progress_bar)


def _run(
    config: Config,
    run_dir: Path,
    dev: torch.device,
    model: GANModel,
    train_set: Dataset,
    sample_batch: dict,
    resume: bool,
    stop_after_epoch: int | None,
    progress_bar: bool,
) -> TrainResult:
    """The training loop proper, on a claimed and locked run directory."""
    progress = checkpoint.Progress()
    if resume:
        # Loaded on the CPU: RNG states must stay CPU tensors; parameters are copied onto ``dev``.
        payload = checkpoint.load(rundir.latest_checkpoint(run_dir), map_location="cpu")
        model.load_state_dict(payload["model"])
        restore_rng_state(payload["rng"])
        progress = checkpoint.progress_of(payload)
    # what can fail (decoding the split, the graph switch) before the log file is opened
    source, step = batch_source(config, train_set, dev), graphs.step_function(model, config, dev)
    rundir.record_invocation(run_dir, str(dev), progress.step if resume else None, Path(config.data.root))
    log = LossLog(run_dir / "losses.csv", model.loss_names, progress.step if resume else None)
    work = SoloWork(config, run_dir, model, source, step, log, sample_batch)
    completed = run_epochs(work, config.train, progress, stop_after_epoch, progress_bar)
    return TrainResult(run_dir, progress, completed=completed)


class SoloWork(EngineWork):
    """One run's side of the loop (:class:`~ganrepro.training.loop.RunWork`): one batch source, one loss log,
    ``latest.pt`` written by the background writer."""

    def __init__(
        self,
        config: Config,
        run_dir: Path,
        model: GANModel,
        source: BatchSource,
        step: graphs.Step,
        log: LossLog,
        sample_batch: dict,
    ) -> None:
        super().__init__(model, source, step, log)
        self.run_dir, self.sample_batch = run_dir, sample_batch
        self.digest = config.digest()

    def save(self, progress: checkpoint.Progress, keep_as: str | None) -> None:
        latest = rundir.latest_checkpoint(self.run_dir)
        after = (lambda: checkpoint.link_copy(latest, self.run_dir / "checkpoints" / keep_as)) if keep_as else None
        self.writer.submit(latest, checkpoint.payload(self.model.state_dict(), progress, self.digest), after)

    def samples(self, step: int) -> None:
        with side_effect_free(self.model.nets):
            rows = self.model.sample_row(self.sample_batch)
        write_grid(rows, self.run_dir / "samples" / f"step{step:08d}.png")

    def plot(self) -> None:
        plot_losses(self.losses.path, self.run_dir / "loss_curves.png")

    def write_final(self) -> None:
        checkpoint.write_final(rundir.latest_checkpoint(self.run_dir), self.run_dir / "checkpoints" / "final.pt")


def _fixed_sample_batch(config: Config) -> dict:
    """The first ``sample_count`` test items (train if no test split), un-jittered: the same every time."""
    try:
        dataset = build_dataset(config, "test", augment=False)
    except UserError:
        dataset = build_dataset(config, "train", augment=False)
    count = min(config.train.sample_count, len(dataset))
    return default_collate([dataset[i] for i in range(count)])
