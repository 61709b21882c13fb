"""The per-step training curves of a run, from its ``losses.csv``, as MLflow metric points.

Every loss column becomes metric ``loss/<name>`` (MLflow's UI groups metrics by the part before the slash)
and the learning rate ``lr``, each at its training step, so the curves of all rows and seeds of a table can
be overlaid in the UI.  ``epoch``, ``iter`` and ``seconds`` are bookkeeping and are not logged.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ganrepro.errors import DataError
from ganrepro.runfiles import LOSS_LOG_COLUMNS
from ganrepro.tracking.batch import Point, finite

LOSS_PREFIX = "loss/"


def metric_name(column: str) -> str:
    return column if column == "lr" else f"{LOSS_PREFIX}{column}"


def loss_points(csv_path: Path) -> list[Point]:
    """One point per loss column (and lr) per row; [] if the file is absent.  Empty or non-numeric cells
    are skipped, a file without a ``step`` column is a DataError."""
    if not csv_path.is_file():
        return []
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "step" not in columns:
            raise DataError(f"{csv_path} has no 'step' column (columns: {', '.join(columns) or 'none'})")
        logged = [c for c in columns if c == "lr" or c not in LOSS_LOG_COLUMNS]
        points: list[Point] = []
        for line, row in enumerate(reader, start=2):
            step = finite(row.get("step"))
            if step is None:
                raise DataError(f"{csv_path}:{line}: step {row.get('step')!r} is not a number")
            for column in logged:
                value = finite(row.get(column))
                if value is not None:
                    points.append(Point(metric_name(column), value, int(step)))
    return points
