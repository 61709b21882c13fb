"""The training loop shared by pix2pix and CycleGAN: epochs, logging, samples, checkpoints, resume.

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

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, default_collate
from tqdm import tqdm

from ganrepro.config import Config
from ganrepro.data import build_dataset
from ganrepro.devices import resolve_device
from ganrepro.errors import UserError
from ganrepro.training import checkpoint, graphs, rundir
from ganrepro.training.async_checkpoint import CheckpointWriter
from ganrepro.training.base import GANModel
from ganrepro.training.batches import batch_source
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


class StopFlag:
    """Set by SIGTERM/SIGINT; checked between steps so that a stop never interrupts a checkpoint write."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopFlag":
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. inside a test runner's worker): no handler
                pass
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train(config: Config, run_dir: str | Path, device: str = "auto", *, stop_after_epoch: int | None = None,
          dataset: Dataset | None = None, progress_bar: bool = True) -> TrainResult:
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


def _run(config: Config, run_dir: Path, dev: torch.device, model: GANModel, train_set: Dataset,
         sample_batch: dict, resume: bool, stop_after_epoch: int | None, progress_bar: bool) -> TrainResult:
    """The training loop proper, on a claimed and locked run directory."""
    progress = checkpoint.Progress()
    if resume:
        # Loaded on the CPU: RNG states must stay CPU tensors; parameters are copied onto ``dev``.
        payload = checkpoint.load(rundir.latest_checkpoint(run_dir), map_location="cpu")
        model.load_state_dict(payload["model"])
        restore_rng_state(payload["rng"])
        progress = checkpoint.progress_of(payload)
    rundir.record_invocation(run_dir, str(dev), progress.step if resume else None, Path(config.data.root))
    log = LossLog(run_dir / "losses.csv", model.loss_names, progress.step if resume else None)

    t = config.train
    total_epochs = t.n_epochs + t.n_epochs_decay
    source = batch_source(config, train_set, dev)
    step = graphs.step_function(model, config, dev)
    writer = CheckpointWriter()
    digest = config.digest()

    def save_latest(keep_as: str | None = None) -> None:
        """Write latest.pt in the background (and then keep it as ``checkpoints/keep_as``)."""
        log.flush()  # the non-finite guard: nothing is written after a step it has not seen
        latest = rundir.latest_checkpoint(run_dir)
        after = (lambda: checkpoint.link_copy(latest, run_dir / "checkpoints" / keep_as)) if keep_as else None
        writer.submit(latest, checkpoint.payload(model.state_dict(), progress, digest), after)

    def write_samples() -> None:
        log.flush()  # the guard first: no grid of a diverged network
        with side_effect_free(model.nets):
            rows = model.sample_row(sample_batch)
        write_grid(rows, run_dir / "samples" / f"step{progress.step:08d}.png")

    def plot() -> None:
        log.flush()
        plot_losses(log.path, run_dir / "loss_curves.png")

    started = time.perf_counter()
    try:
        with StopFlag() as stop:
            while progress.epoch < total_epochs:
                epoch = progress.epoch
                lr = model.lr  # read once per epoch: the rate only changes at epoch boundaries
                bar = tqdm(source.epoch(epoch, progress.batches_done), total=source.batches(0),
                           initial=progress.batches_done, desc=f"epoch {epoch + 1}/{total_epochs}", unit="it",
                           disable=not progress_bar, dynamic_ncols=True, mininterval=1.0)
                model.train_mode(True)
                for batch in bar:
                    losses = step(batch)
                    progress.batches_done += 1
                    progress.step += 1
                    log.add({"step": progress.step, "epoch": epoch + 1, "iter": progress.batches_done, "lr": lr,
                             "seconds": round(time.perf_counter() - started, 3)}, losses)
                    if log.last and not log.pending_meta:  # values just read by a flush: no extra sync
                        bar.set_postfix({"step": progress.step, **{k: f"{v:.3g}" for k, v in log.last.items()}},
                                        refresh=False)
                    if t.sample_every_steps and progress.step % t.sample_every_steps == 0:
                        write_samples()
                    if stop.signal is not None:
                        save_latest()
                        return TrainResult(run_dir, progress, completed=False)
                    if t.latest_every_steps and progress.step % t.latest_every_steps == 0:
                        save_latest()
                bar.close()
                model.end_epoch()
                progress.epoch += 1
                progress.batches_done = 0
                last = progress.epoch >= total_epochs
                stopping = stop_after_epoch is not None and progress.epoch >= stop_after_epoch
                if last or stopping:
                    write_samples()
                keep = t.checkpoint_every_epochs and progress.epoch % t.checkpoint_every_epochs == 0
                save_latest(f"epoch_{progress.epoch:04d}.pt" if keep else None)
                if last or stopping or (t.plot_every_epochs and progress.epoch % t.plot_every_epochs == 0):
                    plot()
                if stopping:
                    break
    finally:
        try:
            writer.wait()
        finally:
            log.close()
    completed = progress.epoch >= total_epochs
    if completed:
        checkpoint.write_final(rundir.latest_checkpoint(run_dir), run_dir / "checkpoints" / "final.pt")
    return TrainResult(run_dir, progress, completed=completed)


def _set_epoch(dataset: Dataset, epoch: int) -> None:
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)


def _fixed_sample_batch(config: Config) -> dict:
    """The first ``sample_count`` test items (train if no test split), un-jittered: the same every time."""
    try:
        dataset = build_dataset(config, "test", augment=False)
    except UserError:
        dataset = build_dataset(config, "train", augment=False)
    count = min(config.train.sample_count, len(dataset))
    return default_collate([dataset[i] for i in range(count)])
