"""``losses.csv`` written in blocks, and the guard that stops a run whose losses stop being finite.

A step returns its losses as device tensors; reading each one on the host (``.item()``) would make the host
wait for the device at every step.  :class:`LossLog` keeps a block of steps on the device and reads them in one
transfer when the block is full or half a second has passed (so the file keeps up with the run), before every
checkpoint write, sample grid and plot, and at the end.  The file keeps one row
per step with the same columns as before, flushed after every block.

The non-finite guard runs at those same reads: the first NaN/inf raises :class:`TrainingDiverged` naming the
loss and the step, after the finite rows before it are written.  Because the trainer flushes before it writes
any checkpoint, a checkpoint is only ever written after all its steps were seen to be finite, so
``latest.pt`` stays the last checkpoint whose steps were all finite.

On resume the file is cut back to the checkpoint's step, so that the steps trained again after a kill are
not logged twice.  The file may be damaged (a kill mid-line, a disk that filled, two processes from before
the run lock existed writing into it); a damaged log must never make a run impossible to resume, so it is
rebuilt from the rows up to the checkpoint's step that still parse, one per step, and a warning says how
many lines were dropped.  The checkpoint, not the log, is the run's state.

A pack's step returns each loss as a vector over its members: :class:`MemberLossLogs` queues one
(losses × members) tensor per step and hands each member's columns to that member's :class:`LossLog`, whose
guard names the member.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ganrepro.errors import TrainingDiverged
from ganrepro.runfiles import LOSS_LOG_COLUMNS

BLOCK_STEPS = 200
FLUSH_SECONDS = 0.5


class BlockQueue:
    """Per-step device tensors queued and read in one transfer per block; subclasses write the rows."""

    def __init__(self, block_steps: int = BLOCK_STEPS, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.block_steps = block_steps
        self.flush_seconds = flush_seconds
        self.flushed_at = time.monotonic()
        self.pending_meta: list[dict[str, float | int]] = []
        self.pending_values: list[torch.Tensor] = []

    def _queue(self, meta: dict[str, float | int], values: torch.Tensor | None) -> None:
        self.pending_meta.append(meta)
        if values is not None:
            self.pending_values.append(values)
        if len(self.pending_meta) >= self.block_steps or time.monotonic() - self.flushed_at >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows (one device-to-host transfer); raise TrainingDiverged at a non-finite loss."""
        self.flushed_at = time.monotonic()
        if not self.pending_meta:
            return
        values = torch.stack(self.pending_values).cpu() if self.pending_values else None
        meta, self.pending_meta, self.pending_values = self.pending_meta, [], []
        self._write(meta, values)

    def _write(self, meta: list[dict[str, float | int]], values: torch.Tensor | None) -> None:
        raise NotImplementedError


class LossLog(BlockQueue):
    """One row per step; truncated back to the checkpoint's step on resume.

    ``label`` names the run in the guard's message when several runs train together (a pack's member)."""

    def __init__(
        self,
        path: Path,
        loss_names: tuple[str, ...],
        resume_step: int | None,
        block_steps: int = BLOCK_STEPS,
        flush_seconds: float = FLUSH_SECONDS,
        label: str | None = None,
    ) -> None:
        super().__init__(block_steps, flush_seconds)
        self.path = path
        self.label = label
        self.loss_names = loss_names
        self.columns = [*LOSS_LOG_COLUMNS, *loss_names]
        self.last: dict[str, float] = {}
        kept = rebuilt_rows(path, self.columns, resume_step) if resume_step is not None and path.exists() else []
        self.handle = open(path, "w", newline="")  # noqa: SIM115 (open for the run, closed by close())
        self.writer = csv.writer(self.handle)
        self.writer.writerow(self.columns)
        self.writer.writerows(kept)
        self.handle.flush()

    def add(self, meta: dict[str, float | int], losses: dict[str, torch.Tensor]) -> None:
        """Queue one step: ``meta`` holds the host columns, ``losses`` one 0-dim tensor per loss name.

        The losses are copied into one small tensor now, so a step that reuses its output buffers (a CUDA
        graph) cannot overwrite a queued value."""
        values = (
            torch.stack([losses[n].detach().float().reshape(()) for n in self.loss_names]) if self.loss_names else None
        )
        self._queue(meta, values)

    def _write(self, meta: list[dict[str, float | int]], values: torch.Tensor | None) -> None:
        self.write_rows(meta, values.tolist() if values is not None else [[] for _ in meta])

    def write_rows(self, meta: list[dict[str, float | int]], values: list[list[float]]) -> None:
        """Rows already read on the host, one per step, checked by the guard before each is written."""
        for row_meta, row in zip(meta, values):
            bad = [(name, value) for name, value in zip(self.loss_names, row) if not math.isfinite(value)]
            if bad:
                self.handle.flush()
                name, value = bad[0]
                who = f"pack member {self.label}: " if self.label else ""
                raise TrainingDiverged(
                    f"{who}loss {name} became {value} at step {row_meta['step']} (epoch {row_meta['epoch']}); "
                    "training stopped, checkpoints/latest.pt was left at the last checkpoint whose steps were all "
                    "finite"
                )
            self.last = dict(zip(self.loss_names, row))
            self.writer.writerow([_fmt(row_meta[c]) for c in LOSS_LOG_COLUMNS] + [f"{v:.6g}" for v in row])
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


class MemberLossLogs(BlockQueue):
    """The loss logs of a pack's members, fed by one (names × members) device tensor per step.

    A packed step returns each loss as a vector with one entry per member; the union of the members' loss
    names is stacked once per step and the whole block is read in one transfer, then each member's columns
    go to its own ``losses.csv`` (through its :class:`LossLog`, whose guard names the member)."""

    def __init__(
        self,
        logs: list[LossLog],
        names: tuple[str, ...],
        block_steps: int = BLOCK_STEPS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        super().__init__(block_steps, flush_seconds)
        self.logs = logs
        self.names = names
        self.columns = [[names.index(n) for n in log.loss_names] for log in logs]

    @property
    def last(self) -> dict[str, float]:
        return self.logs[0].last

    def add(self, meta: dict[str, float | int], losses: dict[str, torch.Tensor]) -> None:
        self._queue(meta, torch.stack([losses[n].detach().float().reshape(len(self.logs)) for n in self.names]))

    def _write(self, meta: list[dict[str, float | int]], values: torch.Tensor | None) -> None:
        assert values is not None  # every GAN objective logs at least one loss
        for member, (log, columns) in enumerate(zip(self.logs, self.columns)):
            log.write_rows(meta, values[:, columns, member].tolist())

    def close(self) -> None:
        for log in self.logs:
            log.close()


def _fmt(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def rebuilt_rows(
    path: Path, columns: list[str], last_step: int, warn: Callable[[str], None] | None = None
) -> list[list[str]]:
    """The rows of ``path`` to keep when resuming at ``last_step``; a warning line when some were dropped."""
    kept, dropped = readable_rows(path, columns, last_step)
    if dropped:
        (warn or _stderr)(
            f"warning: {path} was damaged ({dropped} unreadable or out-of-order line(s)); "
            f"rebuilt from the {len(kept)} row(s) up to step {last_step} that still parse"
        )
    return kept


def readable_rows(path: Path, columns: list[str], last_step: int) -> tuple[list[list[str]], int]:
    """(rows of steps 1..``last_step`` that parse, in step order, each step once; count of lines dropped).

    A row parses when it has one field per column, an integer step and numbers elsewhere; a row repeating a
    step already kept, or not after the previous kept step, is dropped (it belongs to another writer).
    """
    try:
        with open(path, newline="", errors="replace") as handle:
            rows = list(csv.reader(line.replace("\0", "") for line in handle))
    except (OSError, csv.Error):
        return [], 1
    body = rows[1:] if rows and rows[0] == columns else rows
    dropped = 0 if rows and rows[0] == columns else 1
    kept: list[list[str]] = []
    previous = 0
    for row in body:
        step = _parse_row(row, len(columns))
        if step is None or step <= previous:
            dropped += 1
            continue
        if step > last_step:
            continue  # trained after the checkpoint: trained again now, logged again
        kept.append(row)
        previous = step
    return kept, dropped


def _parse_row(row: list[str], width: int) -> int | None:
    if len(row) != width:
        return None
    try:
        step = int(row[0])
        for value in row[1:]:
            float(value)
    except ValueError:
        return None
    return step if step >= 1 else None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
