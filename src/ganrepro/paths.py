"""Where the project's files live: the params/ folder (the single source of truth for what runs) and the
data folder.  Both can be moved with environment variables so that tests and clusters can relocate them."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root when running from a checkout (src/ganrepro/paths.py -> ../../).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def params_dir() -> Path:
    """``$GANREPRO_PARAMS`` if set, else ``./params`` if it exists, else the checkout's ``params/``."""
    env = os.environ.get("GANREPRO_PARAMS")
    if env:
        return Path(env)
    local = Path.cwd() / "params"
    return local if local.is_dir() else PACKAGE_ROOT / "params"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: an explicit ``--data-dir``, else ``$GANREPRO_DATA_DIR``, else ``./data``.

    A path that exists but is not a folder is refused here, naming where it came from, rather than failing
    later as a traceback from whichever stage first writes into it.
    """
    from ganrepro.errors import UserError

    path = Path(explicit) if explicit is not None else Path(os.environ.get("GANREPRO_DATA_DIR", "data"))
    if path.exists() and not path.is_dir():
        where = "--data-dir" if explicit is not None else "$GANREPRO_DATA_DIR (default ./data)"
        raise UserError(f"{where} {path} is a file, not a folder; pass a folder")
    return path
