"""Choosing the torch device from a ``--device`` option (auto | cpu | cuda | cuda:N | mps).

The value is checked here, before a run directory or an output is written: ``torch.device('tpu')`` would
only fail deep inside model construction, with a traceback.
"""

from __future__ import annotations

import re

from ganrepro.errors import UserError

_FORMAT = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def resolve_device(name: str | None = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; an unknown or absent device is an error."""
    import torch

    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not _FORMAT.match(name):
        raise UserError(f"--device {name!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {name} was requested but no CUDA device is available (use --device cpu)")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UserError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible "
                f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})"
            )
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps was requested but MPS is not available (use --device cpu)")
    return name
