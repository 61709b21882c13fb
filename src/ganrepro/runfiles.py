"""The run directory's file names and formats, and the readers of each: the contract between stages.

``ganrepro train`` writes a run directory, ``ganrepro evaluate`` adds its scores, and the tracker, the report
and the workflow's plan read them back.  Each name and format is defined here once, so that a file can be
renamed or a column added in one place; this module imports no training code, so readers stay light.

Layout::

    RUN_DIR/config.yaml         the resolved config (all keys, after overrides), written when training starts
    RUN_DIR/provenance.json     code version, git commit, command lines, device, torch version per invocation
    RUN_DIR/losses.csv          one row per training step: LOSS_LOG_COLUMNS, then one column per loss
    RUN_DIR/loss_curves.png     the losses so far
    RUN_DIR/checkpoints/        latest.pt, epoch_NNNN.pt, final.pt
    RUN_DIR/samples/            stepNNNNNNNN.png: input | output | target grids on fixed test images
    RUN_DIR/eval/SPLIT-{train,eval}mode/metrics.json   the scores (format METRICS_FORMAT), beside
                                images/, real/, inputs/ and per_image.npz
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganrepro.errors import DataError, UserError

CONFIG_FILE = "config.yaml"
PROVENANCE_FILE = "provenance.json"
LOSSES_FILE = "losses.csv"
CURVES_FILE = "loss_curves.png"
CHECKPOINTS_DIR = "checkpoints"
LATEST_CHECKPOINT = "latest.pt"
FINAL_CHECKPOINT = "final.pt"
SAMPLES_DIR = "samples"
SAMPLE_PATTERN = re.compile(r"^step(\d+)\.png$")
EVAL_DIR = "eval"
METRICS_FILE_NAME = "metrics.json"
#: Inside an evaluation folder: CycleGAN's second generator (G_B) evaluated on the other direction.
REVERSE_DIR = "reverse"
#: The ``format`` tag of every metrics.json; a reader refuses any other.
METRICS_FORMAT = "ganrepro-metrics/1"
#: losses.csv's bookkeeping columns, in order; every column after them is a loss.
LOSS_LOG_COLUMNS = ("step", "epoch", "iter", "lr", "seconds")


# ------------------------------------------------------------------------------------------------- paths


def checkpoint_path(run_dir: Path, name: str = LATEST_CHECKPOINT) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR / name


def sample_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / SAMPLES_DIR / f"step{step:08d}.png"


def eval_dir(run_dir: Path, split: str = "test", train_mode: bool = True) -> Path:
    """Where ``ganrepro evaluate`` writes by default; the papers' protocol (train mode) on the test split."""
    return Path(run_dir) / EVAL_DIR / f"{split}-{'train' if train_mode else 'eval'}mode"


def metrics_path(run_dir: Path, split: str = "test", train_mode: bool = True) -> Path:
    return eval_dir(run_dir, split, train_mode) / METRICS_FILE_NAME


#: The scores the tracker and the report read, relative to the run directory.
METRICS_FILE = metrics_path(Path()).as_posix()


# ----------------------------------------------------------------------------------------------- readers


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; DataError naming the file if it is missing, corrupt or not an object."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{what} {path} is not readable JSON: {err}") from None
    if not isinstance(data, dict):
        raise DataError(f"{what} {path} must hold a JSON object, not {type(data).__name__}")
    return data


def read_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.yaml as a nested mapping (ConfigError naming the file when it is damaged)."""
    from ganrepro.yamlio import load_mapping

    return load_mapping(Path(run_dir) / CONFIG_FILE, "run config")


def config_params(run_dir: Path) -> dict[str, Any]:
    """The resolved config the run was trained with, as dotted keys."""
    return flatten(read_config(run_dir))


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"crop_size": 256}}`` -> ``{"data.crop_size": 256}`` (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def differing_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config trees (a key missing on one side differs)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [k for key in keys for k in differing_keys(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".")]


@dataclass(frozen=True)
class Provenance:
    """The code and data a run was trained with, from its latest invocation."""

    git_commit: str | None
    git_dirty: bool | None
    data_hash: str | None
    ganrepro_version: str | None
    commits: tuple[str, ...]


def invocations(run_dir: Path) -> list[dict[str, Any]]:
    """provenance.json's invocations, oldest first ([] when the file is absent)."""
    path = Path(run_dir) / PROVENANCE_FILE
    if not path.is_file():
        return []
    found = read_json(path, "provenance file").get("invocations") or []
    return [i for i in found if isinstance(i, dict)]


def git_commit() -> str | None:
    """The commit of the code that runs, as provenance.json records it (with a ``-dirty`` suffix for uncommitted
    changes; :func:`split_commit` reads it back), if in a checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def split_commit(text: str | None) -> tuple[str | None, bool | None]:
    """``"abc123-dirty"`` -> ("abc123", True), as ``ganrepro train`` records commits."""
    if not text:
        return None, None
    if text.endswith("-dirty"):
        return text[: -len("-dirty")], True
    return text, False


def provenance(run_dir: Path) -> Provenance:
    """The latest invocation's commit, data hash and version (all None if provenance.json is absent)."""
    found = invocations(run_dir)
    last = found[-1] if found else {}
    commit, dirty = split_commit(last.get("git_commit"))
    commits = tuple(dict.fromkeys(str(i["git_commit"]) for i in found if i.get("git_commit")))
    return Provenance(commit, dirty, last.get("data_hash"), last.get("ganrepro_version"), commits)


def read_losses(path: Path) -> dict[str, list[float]]:
    """losses.csv as {column: values}; the step column plus one list per loss (NaN where a cell is empty)."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        if "step" not in columns:
            raise UserError(f"{path} has no 'step' column; not a loss log written by `ganrepro train`")
        wanted = ["step"] + [c for c in columns if c not in LOSS_LOG_COLUMNS]
        out: dict[str, list[float]] = {c: [] for c in wanted}
        for number, line in enumerate(reader, start=2):
            try:
                for column in wanted:
                    cell = line.get(column)
                    out[column].append(float(cell) if cell not in (None, "") else math.nan)
            except ValueError as err:
                raise UserError(f"{path}, line {number}: {err}") from None
    return out


def check_metrics_format(document: Mapping[str, Any], where: str) -> None:
    """DataError unless ``document`` is a metrics.json of this format."""
    if document.get("format") != METRICS_FORMAT:
        raise DataError(f"{where}: format is {document.get('format')!r}, expected {METRICS_FORMAT!r}")


def newest_sample(run_dir: Path) -> Path | None:
    """The sample grid of the highest step, ``samples/stepNNNNNNNN.png``."""
    found = [
        (int(m.group(1)), p)
        for p in (Path(run_dir) / SAMPLES_DIR).glob("step*.png")
        if (m := SAMPLE_PATTERN.match(p.name))
    ]
    return max(found)[1] if found else None


def check_run_dir(run_dir: str | Path) -> Path:
    """The run directory, if it holds an evaluated run; else a UserError saying what is missing."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist")
    if not (path / CONFIG_FILE).is_file():
        raise UserError(f"{path} holds no {CONFIG_FILE}: not a ganrepro run directory")
    if not (path / METRICS_FILE).is_file():
        raise UserError(
            f"{path} holds no {METRICS_FILE}; evaluate the run first "
            f"(ganrepro evaluate {path} --checkpoint {FINAL_CHECKPOINT} ...)"
        )
    return path


def artifact_files(run_dir: Path) -> list[tuple[Path, str | None]]:
    """(file, folder inside the run's artifacts) for the files worth keeping that exist; metrics.json always
    does."""
    files: list[tuple[Path, str | None]] = [(run_dir / METRICS_FILE, None)]
    files += [
        (run_dir / name, None) for name in (CONFIG_FILE, PROVENANCE_FILE, CURVES_FILE) if (run_dir / name).is_file()
    ]
    sample = newest_sample(run_dir)
    if sample is not None:
        files.append((sample, SAMPLES_DIR))
    return files
