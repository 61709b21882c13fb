"""What a finished run directory says about itself: its config, provenance and the files worth keeping.

The tracker reads the files that ``ganrepro train`` and ``ganrepro evaluate`` already wrote instead of
hooking into training, so a run can be (re)logged at any time after it finished, and logging can never
change a result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganrepro.config import read_yaml_mapping
from ganrepro.errors import DataError, UserError

CONFIG_FILE = "config.yaml"
PROVENANCE_FILE = "provenance.json"
LOSSES_FILE = "losses.csv"
CURVES_FILE = "loss_curves.png"
METRICS_FILE = "eval/test-trainmode/metrics.json"
SAMPLE_PATTERN = re.compile(r"^step(\d+)\.png$")


@dataclass(frozen=True)
class Provenance:
    """The code and data a run was trained with, from its latest invocation."""

    git_commit: str | None
    git_dirty: bool | None
    data_hash: str | None
    ganrepro_version: str | None
    commits: tuple[str, ...]


def check_run_dir(run_dir: str | Path) -> Path:
    """The run directory, if it holds an evaluated run; else a UserError saying what is missing."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist")
    if not (path / CONFIG_FILE).is_file():
        raise UserError(f"{path} holds no {CONFIG_FILE}: not a ganrepro run directory")
    if not (path / METRICS_FILE).is_file():
        raise UserError(f"{path} holds no {METRICS_FILE}; evaluate the run first "
                        f"(ganrepro evaluate {path} --checkpoint final.pt ...)")
    return path


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


def config_params(run_dir: Path) -> dict[str, Any]:
    """The resolved config the run was trained with, as dotted keys."""
    return flatten(read_yaml_mapping(run_dir / CONFIG_FILE, "run config"))


def split_commit(text: str | None) -> tuple[str | None, bool | None]:
    """``"abc123-dirty"`` -> ("abc123", True), as ``ganrepro train`` records commits."""
    if not text:
        return None, None
    if text.endswith("-dirty"):
        return text[: -len("-dirty")], True
    return text, False


def provenance(run_dir: Path) -> Provenance:
    """The latest invocation's commit, data hash and version (all None if provenance.json is absent)."""
    path = run_dir / PROVENANCE_FILE
    if not path.is_file():
        return Provenance(None, None, None, None, ())
    invocations = read_json(path, "provenance file").get("invocations") or []
    invocations = [i for i in invocations if isinstance(i, dict)]
    last = invocations[-1] if invocations else {}
    commit, dirty = split_commit(last.get("git_commit"))
    commits = tuple(dict.fromkeys(str(i["git_commit"]) for i in invocations if i.get("git_commit")))
    return Provenance(commit, dirty, last.get("data_hash"), last.get("ganrepro_version"), commits)


def newest_sample(run_dir: Path) -> Path | None:
    """The sample grid of the highest step, ``samples/stepNNNNNNNN.png``."""
    found = [(int(m.group(1)), p) for p in (run_dir / "samples").glob("step*.png")
             if (m := SAMPLE_PATTERN.match(p.name))]
    return max(found)[1] if found else None


def artifact_files(run_dir: Path) -> list[tuple[Path, str | None]]:
    """(file, folder inside the run's artifacts) for the files that exist; metrics.json always does."""
    files: list[tuple[Path, str | None]] = [(run_dir / METRICS_FILE, None)]
    files += [(run_dir / name, None) for name in (CONFIG_FILE, PROVENANCE_FILE, CURVES_FILE)
              if (run_dir / name).is_file()]
    sample = newest_sample(run_dir)
    if sample is not None:
        files.append((sample, "samples"))
    return files
