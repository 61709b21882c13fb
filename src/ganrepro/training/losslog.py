"""``losses.csv``: one row per training step, flushed as written, rebuilt from what the checkpoint covers.

On resume the log is cut back to the checkpoint's step, so that the steps trained again after a kill are
not logged twice.  The file may be damaged (a kill mid-line, a disk that filled, two processes from before
the run lock existed writing into it); a damaged log must never make a run impossible to resume, so it is
rebuilt from the rows up to the checkpoint's step that still parse, one per step, and a warning says how
many lines were dropped.  The checkpoint, not the log, is the run's state.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Callable

LOG_COLUMNS = ("step", "epoch", "iter", "lr", "seconds")


class LossLog:
    """Appends one row per step to ``path`` (header: :data:`LOG_COLUMNS` then the model's loss names)."""

    def __init__(self, path: Path, loss_names: tuple[str, ...], resume_step: int | None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.columns = [*LOG_COLUMNS, *loss_names]
        kept: list[list[str]] = []
        if resume_step is not None and path.exists():
            kept, dropped = readable_rows(path, self.columns, resume_step)
            if dropped:
                (warn or _stderr)(f"warning: {path} was damaged ({dropped} unreadable or out-of-order line(s)); "
                                  f"rebuilt from the {len(kept)} row(s) up to step {resume_step} that still parse")
        self.handle = open(path, "w", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(self.columns)
        self.writer.writerows(kept)
        self.handle.flush()

    def write(self, values: dict[str, float | int]) -> None:
        self.writer.writerow([_fmt(values[c]) for c in self.columns])
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


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


def _fmt(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)
