"""Attaching a table build's rendered report to its parent run, so the UI shows the table beside its runs.

Called by ``ganrepro report --mlflow-parent FILE`` once the report markdown and its figures are written.
The files keep their layout relative to their common folder under ``report/`` in the parent's artifacts
(``reports/t.md`` + ``reports/d/p/t.md`` + ``reports/d/p/t/x.png`` -> ``report/t.md``, ``report/d/p/t.md``,
``report/d/p/t/x.png``), so the markdown's relative image links still resolve.  Logging again overwrites
the files, so the parent always holds the latest rendering.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ganrepro.errors import UserError
from ganrepro.tracking.records import read_parent
from ganrepro.tracking.store import open_client, retry

REPORT_DIR = "report"


def artifact_folders(paths: list[Path]) -> list[str]:
    """The artifact folder of each file: ``report/`` + its folder relative to the files' common folder."""
    absolute = [p.absolute() for p in paths]
    base = Path(os.path.commonpath([p.parent for p in absolute]))
    folders = []
    for path in absolute:
        relative = path.parent.relative_to(base).as_posix()
        folders.append(REPORT_DIR if relative == "." else f"{REPORT_DIR}/{relative}")
    return folders


def log_report(parent_json: str | os.PathLike[str], files: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Log ``files`` (the report markdown copies, figure PNGs) as artifacts of the parent run in
    ``parent_json``; returns the artifact paths written, e.g. ``["report/pix2pix_ablation.md", ...]``.

    A missing file or parent record is a UserError, raised before anything is logged.
    """
    paths = [Path(f) for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"cannot log report files to MLflow, not found: {', '.join(missing)}")
    parent = read_parent(parent_json)
    if not paths:
        return []
    client = open_client(parent.tracking_uri, must_exist=True)
    logged: list[str] = []
    for path, folder in zip(paths, artifact_folders(paths)):
        retry(client.log_artifact, parent.parent_run_id, str(path), folder)
        logged.append(f"{folder}/{path.name}")
    return logged
