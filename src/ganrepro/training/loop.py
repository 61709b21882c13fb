"""The one training loop of a solo run and of a pack: epochs, the resume position, block logging, the checkpoint
cadence, the non-finite guard, samples and plots at their intervals, and a clean stop on SIGTERM/SIGINT.

What differs between a solo run and a pack (where batches come from, what a step returns, how losses are
logged, how a checkpoint is written, how many sample grids are drawn) sits behind :class:`RunWork`; the order
of events, which exact resume depends on, exists once, here:

* a step, then its log row (queued on the device), then a sample grid when ``sample_every_steps`` says so,
  then the stop check (a stop writes ``latest.pt`` at this step boundary), then ``latest_every_steps``;
* at an epoch's end: the LR schedule steps, samples at the last (or ``stop_after_epoch``) epoch, ``latest.pt``
  (kept as ``epoch_NNNN.pt`` every ``checkpoint_every_epochs``), the loss plot every ``plot_every_epochs`` and
  at the end;
* the guard: every checkpoint write, sample grid and plot first reads the queued losses
  (:meth:`RunWork.flush`), which raises at the first non-finite value, so nothing is written after a step the
  guard has not seen and ``latest.pt`` stays the last checkpoint whose steps were all finite.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch
from tqdm import tqdm

from ganrepro.config import TrainConfig
from ganrepro.training.async_checkpoint import CheckpointWriter
from ganrepro.training.checkpoint import Progress


class LoopModel(Protocol):
    """What the loop asks of the model itself (a :class:`~ganrepro.training.base.GANModel`)."""

    @property
    def lr(self) -> float: ...

    def train_mode(self, flag: bool = True) -> None: ...

    def end_epoch(self) -> None: ...


class RunWork(Protocol):
    """The per-run work the loop drives; a solo run and a pack each implement it."""

    model: LoopModel

    def batches(self, epoch: int, skip_batches: int) -> Iterator[dict[str, torch.Tensor]]:
        """The epoch's batches after the ``skip_batches`` already trained on, in the run's order."""
        ...

    def batch_count(self, skip_batches: int) -> int: ...

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One training step; the losses stay device tensors."""
        ...

    def log(self, meta: dict[str, Any], losses: dict[str, torch.Tensor]) -> None:
        """Queue the step's row (read later, in blocks)."""
        ...

    def flush(self) -> None:
        """Read and write the queued rows: the non-finite guard."""
        ...

    def shown(self) -> dict[str, float]:
        """Losses already on the host to show on the progress bar (empty when none were read)."""
        ...

    def save(self, progress: Progress, keep_as: str | None) -> None:
        """Write ``latest.pt`` (and keep it as ``checkpoints/keep_as``); may finish in the background."""
        ...

    def samples(self, step: int) -> None: ...

    def plot(self) -> None: ...

    def close(self) -> None:
        """Wait for background writes (re-raising their errors) and close the logs."""
        ...

    def write_final(self) -> None: ...


class EngineWork:
    """What a solo run and a pack do alike: batches from a source, steps from a step function (eager or one
    CUDA graph), losses queued in a block log, checkpoints written by a background writer."""

    def __init__(
        self, model: Any, source: Any, step: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]], losses: Any
    ) -> None:
        self.model, self.source, self.step, self.losses = model, source, step, losses
        self.writer = CheckpointWriter()

    def batches(self, epoch: int, skip_batches: int) -> Iterator[dict[str, torch.Tensor]]:
        return self.source.epoch(epoch, skip_batches)

    def batch_count(self, skip_batches: int) -> int:
        return self.source.batches(skip_batches)

    def log(self, meta: dict[str, Any], losses: dict[str, torch.Tensor]) -> None:
        self.losses.add(meta, losses)

    def flush(self) -> None:
        self.losses.flush()

    def shown(self) -> dict[str, float]:
        return self.losses.last if not self.losses.pending_meta else {}

    def close(self) -> None:
        try:
            self.writer.wait()
        finally:
            self.losses.close()


class StopFlag:
    """Set by SIGTERM/SIGINT; checked between steps so that a stop never interrupts a checkpoint write."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError):  # not the main thread (e.g. inside a test runner's worker)
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def run_epochs(
    work: RunWork, t: TrainConfig, progress: Progress, stop_after_epoch: int | None, progress_bar: bool, label: str = ""
) -> bool:
    """Train from ``progress`` (updated in place) to the end or to a stop; True when every epoch is done."""
    total_epochs = t.n_epochs + t.n_epochs_decay

    def save(keep_as: str | None = None) -> None:
        work.flush()
        work.save(progress, keep_as)

    def samples() -> None:
        work.flush()  # no grid of a diverged network
        work.samples(progress.step)

    def plot() -> None:
        work.flush()
        work.plot()

    started = time.perf_counter()
    try:
        with StopFlag() as stop:
            while progress.epoch < total_epochs:
                epoch = progress.epoch
                lr = work.model.lr  # read once per epoch: the rate only changes at epoch boundaries
                bar = tqdm(
                    work.batches(epoch, progress.batches_done),
                    total=work.batch_count(0),
                    initial=progress.batches_done,
                    desc=f"{label}epoch {epoch + 1}/{total_epochs}",
                    unit="it",
                    disable=not progress_bar,
                    dynamic_ncols=True,
                    mininterval=1.0,
                )
                work.model.train_mode(True)
                for batch in bar:
                    losses = work.step(batch)
                    progress.batches_done += 1
                    progress.step += 1
                    work.log(
                        {
                            "step": progress.step,
                            "epoch": epoch + 1,
                            "iter": progress.batches_done,
                            "lr": lr,
                            "seconds": round(time.perf_counter() - started, 3),
                        },
                        losses,
                    )
                    shown = work.shown()
                    if shown:  # values just read by a flush: no extra sync
                        bar.set_postfix(
                            {"step": progress.step, **{k: f"{v:.3g}" for k, v in shown.items()}}, refresh=False
                        )
                    if t.sample_every_steps and progress.step % t.sample_every_steps == 0:
                        samples()
                    if stop.signal is not None:
                        save()
                        return False
                    if t.latest_every_steps and progress.step % t.latest_every_steps == 0:
                        save()
                bar.close()
                work.model.end_epoch()
                progress.epoch += 1
                progress.batches_done = 0
                last = progress.epoch >= total_epochs
                stopping = stop_after_epoch is not None and progress.epoch >= stop_after_epoch
                if last or stopping:
                    samples()
                keep = t.checkpoint_every_epochs and progress.epoch % t.checkpoint_every_epochs == 0
                save(f"epoch_{progress.epoch:04d}.pt" if keep else None)
                if last or stopping or (t.plot_every_epochs and progress.epoch % t.plot_every_epochs == 0):
                    plot()
                if stopping:
                    break
    finally:
        work.close()
    completed = progress.epoch >= total_epochs
    if completed:
        work.write_final()
    return completed
