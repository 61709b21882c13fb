"""One run directory per training run, and the rule that it is never silently reused for another config.

The directory's file names and formats belong to :mod:`ganrepro.runfiles`; this module writes the two files
that identify a run (config.yaml when training starts, provenance.json per invocation) and refuses a
directory that holds another run.  ``RUN_DIR/.train.lock`` is held (flock) by the training process.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
from pathlib import Path
from typing import Any

from ganrepro import __version__, atomic
from ganrepro.config import Config, dump_yaml
from ganrepro.errors import ConfigError, UserError
from ganrepro.runfiles import CONFIG_FILE, PROVENANCE_FILE, checkpoint_path, differing_keys, git_commit
from ganrepro.training.runlock import LOCK_FILE
from ganrepro.yamlio import load_mapping


def latest_checkpoint(run_dir: Path) -> Path:
    return checkpoint_path(run_dir)


def check_claim(run_dir: Path, config: Config) -> bool:
    """Whether ``run_dir`` can hold ``config``'s run, writing nothing: True when it already holds it.

    Refuses (UserError) a path that is a file, a directory holding another config's run or a malformed
    config.yaml, and a non-empty directory holding files that are not a run's.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out {run_dir} is a file, not a run directory; choose another --out")
    config_path = run_dir / CONFIG_FILE
    if config_path.exists():
        existing = read_run_config(config_path)
        if existing != config.to_dict():
            diff = ", ".join(differing_keys(existing, config.to_dict())) or "(unreadable)"
            raise UserError(
                f"{run_dir} holds a run of a different config (differs in: {diff}); "
                "choose another --out or remove that directory"
            )
        return True
    if run_dir.exists() and any((p.is_file() or p.is_symlink()) and p.name != LOCK_FILE for p in run_dir.rglob("*")):
        # Empty folders (e.g. checkpoints/ made by a workflow manager for a declared output) hold nothing to lose.
        entries = ", ".join(sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_FILE)[:5])
        raise UserError(
            f"{run_dir} is not empty ({entries}) and holds no run config; "
            "refusing to overwrite it — choose another --out"
        )
    return False


def read_run_config(path: Path) -> dict[str, Any]:
    """A run directory's config.yaml as a mapping; UserError naming it when it is damaged."""
    try:
        return load_mapping(path, "run config")
    except ConfigError as err:
        raise UserError(
            f"{err} -- the run directory is damaged; remove {path.parent} or choose another --out"
        ) from None


def claim(run_dir: Path, config: Config) -> bool:
    """Make ``run_dir`` this config's run directory (write config.yaml); True when there is a checkpoint to
    resume.  Call it holding the run's :class:`~ganrepro.training.runlock.RunLock`, once training starts."""
    if not check_claim(run_dir, config):
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(run_dir / CONFIG_FILE, dump_yaml(config))
        return False
    return latest_checkpoint(run_dir).exists()


def record_invocation(run_dir: Path, device: str, resumed_from_step: int | None, data_root: Path) -> None:
    """Append this invocation (command, code version, git commit, data hash, device) to provenance.json."""
    path = run_dir / PROVENANCE_FILE
    record = read_provenance(path)
    import torch

    record["invocations"].append(
        {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": sys.argv,
            "ganrepro_version": __version__,
            "git_commit": git_commit(),
            "torch_version": torch.__version__,
            "python": platform.python_version(),
            "host": platform.node(),
            "device": device,
            "data_root": str(data_root),
            "data_hash": data_hash(data_root),
            "resumed_from_step": resumed_from_step,
        }
    )
    atomic.write_json(path, record)


def read_provenance(path: Path) -> dict[str, Any]:
    """provenance.json so far; a damaged one never blocks a resume: its text is kept beside it, a new list starts."""
    if not path.exists():
        return {"invocations": []}
    try:
        record = json.loads(path.read_text())
        if isinstance(record, dict) and isinstance(record.get("invocations"), list):
            return record
    except (OSError, ValueError):
        pass
    kept = path.with_name(path.name + ".damaged")
    path.replace(kept)
    print(f"warning: {path} was damaged; kept as {kept.name}, a new record starts", file=sys.stderr)
    return {"invocations": []}


def data_hash(data_root: Path) -> str | None:
    """The prepared dataset's checksum from its manifest.json (None for data not made by ``ganrepro prepare``)."""
    manifest = Path(data_root) / "manifest.json"
    try:
        return json.loads(manifest.read_text()).get("data_hash")
    except (OSError, ValueError, AttributeError):
        return None
