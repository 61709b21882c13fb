"""Finding, verifying and (only when asked) fetching pretrained weight files, without ever downloading silently.

Metrics are only comparable when computed with the same weights, so every weight file is looked up in a
fixed order (an explicit path, an environment variable, the torch hub cache) and its SHA-256 is checked
against the prefix embedded in its official file name (``name-<hex>.pth``), the check ``torch.hub`` applies
with ``check_hash=True``.  The full digest is returned so that results and caches can name the exact file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ganrepro.errors import UserError
from ganrepro.hashing import sha256_file

_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")


def hub_checkpoint_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``: where torch.hub and torchvision cache downloaded weights."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def hash_prefix(filename: str) -> str | None:
    """The SHA-256 prefix torch.hub reads from a weight file name (``resnet50-0676ba61.pth`` -> ``0676ba61``)."""
    match = _HASH_IN_NAME.search(Path(filename).name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class WeightsFile:
    """A located weight file, where it was found, its full SHA-256 and whether that matched the official prefix."""

    path: Path
    source: str
    sha256: str
    verified: bool


class WeightsUnavailable(UserError):
    """Required weights are not on this machine; the message says which file, from where, and where to put it."""


def locate_weights(
    filename: str, explicit: str | os.PathLike[str] | None = None, env_var: str | None = None
) -> tuple[Path, str]:
    """The path where the weights must be, and why: ``explicit``, else ``$env_var``, else hub cache / ``filename``.

    The caller checks ``path.is_file()``.  A configured path that names a missing file is reported as missing
    rather than silently replaced by another copy: the user asked for that file.
    """
    if explicit:
        return Path(explicit).expanduser(), "explicit path"
    if env_var and os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser(), f"${env_var}"
    return hub_checkpoint_dir() / filename, "torch hub cache"


def verify_weights(path: Path, official_name: str, source: str, verify: bool = True) -> WeightsFile:
    """Hash ``path``; with ``verify`` require the digest to start with the prefix in ``official_name``."""
    digest = sha256_file(path)
    prefix = hash_prefix(official_name)
    matches = prefix is not None and digest.startswith(prefix)
    if verify and not matches:
        raise UserError(
            f"weights file {path} has sha256 {digest[:16]}..., expected a digest starting with {prefix} "
            f"({official_name}); it is not the official file: replace it"
        )
    return WeightsFile(path=path, source=source, sha256=digest, verified=matches)


def fetch_weights(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` with torch.hub's hash-prefix check (partial files never land at target)."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=hash_prefix(url), progress=True)
    except Exception as err:  # URLError, RuntimeError (hash mismatch), OSError...
        raise WeightsUnavailable(f"could not fetch {url} to {target}: {err}") from None
    return target
