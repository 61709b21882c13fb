"""Choosing the torch device from a ``--device`` option (auto | cpu | cuda | cuda:N)."""

from __future__ import annotations

from ganrepro.errors import UserError


def resolve_device(name: str | None = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; a CUDA device that is absent is an error."""
    import torch

    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} was requested but no CUDA device is available (use --device cpu)")
    return name
