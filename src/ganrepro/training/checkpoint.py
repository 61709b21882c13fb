"""Checkpoints that hold everything a run needs to continue exactly where it stopped.

A checkpoint stores the networks, optimisers, schedulers, image pools, every RNG state, the epoch, the
number of batches already done in that epoch and the global step.  It is written atomically, so a run
killed while saving still has its previous checkpoint.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganrepro import atomic
from ganrepro.errors import DataError
from ganrepro.training.rng import capture_rng_state

FORMAT = 1


@dataclass
class Progress:
    """Where training stands: ``epoch`` is 0-based; ``batches_done`` counts batches of that epoch."""

    epoch: int = 0
    batches_done: int = 0
    step: int = 0


def save(path: Path, model_state: dict[str, Any], progress: Progress, config_digest: str) -> None:
    atomic.torch_save(payload(model_state, progress, config_digest), path)


def payload(model_state: dict[str, Any], progress: Progress, config_digest: str) -> dict[str, Any]:
    """What a checkpoint holds, RNG states captured now (so a snapshot taken now can be written later)."""
    return {
        "format": FORMAT,
        "config_digest": config_digest,
        "epoch": progress.epoch,
        "batches_done": progress.batches_done,
        "step": progress.step,
        "model": model_state,
        "rng": capture_rng_state(),
    }


def load(path: Path, map_location: str | torch.device = "cpu", mmap: bool = False) -> dict[str, Any]:
    """The checkpoint's payload; with ``mmap`` its tensors are mapped, not read, so that a reader that needs a
    few of them (evaluation: the generators) never reads the discriminators and optimiser states."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False, mmap=mmap)
    except FileNotFoundError:
        raise DataError(f"checkpoint not found: {path}") from None
    except Exception as err:  # a truncated/corrupt file: name it, never guess
        raise DataError(f"cannot read checkpoint {path}: {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{path} is not a ganrepro checkpoint (format {FORMAT})")
    return payload


def progress_of(payload: dict[str, Any]) -> Progress:
    return Progress(epoch=payload["epoch"], batches_done=payload["batches_done"], step=payload["step"])


def link_copy(source: Path, target: Path) -> None:
    """Keep a named snapshot of a checkpoint without doubling disk use (hard link, replaced atomically).

    ``latest.pt`` is always replaced by a rename, never rewritten in place, so the snapshot's bytes stay
    those of the epoch it names.  Falls back to a copy on file systems without hard links.
    """
    if target.exists() and os.path.samefile(source, target):
        return  # already this file (renaming a link onto itself would be a no-op that leaves the temporary)
    with atomic.atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


def write_final(source: Path, target: Path) -> None:
    """Write ``final.pt``: an independent, read-only copy of ``source``, written atomically.

    Not a hard link: damaging or replacing ``latest.pt`` (or a resumed run overwriting it) must not touch the
    finished run's weights.  Rewriting it when a finished run is run again leaves no temporary behind.
    """
    with atomic.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    os.chmod(target, 0o444)
