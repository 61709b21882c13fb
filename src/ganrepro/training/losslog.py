"""Rebuilding ``losses.csv`` on resume from the rows the checkpoint covers that still parse.

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


def rebuilt_rows(path: Path, columns: list[str], last_step: int,
                 warn: Callable[[str], None] | None = None) -> list[list[str]]:
    """The rows of ``path`` to keep when resuming at ``last_step``; a warning line when some were dropped."""
    kept, dropped = readable_rows(path, columns, last_step)
    if dropped:
        (warn or _stderr)(f"warning: {path} was damaged ({dropped} unreadable or out-of-order line(s)); "
                          f"rebuilt from the {len(kept)} row(s) up to step {last_step} that still parse")
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
