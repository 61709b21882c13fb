"""Writing report files so that regenerating an unchanged report touches nothing.

Build tools and readers compare modification times; rewriting identical bytes would make an unchanged report
look new.  So a file is replaced (atomically) only when its bytes differ from what is already there.  Reports
are meant to be read by others, so they get the ordinary permissions of new files (umask), not the private
ones of a temporary file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganrepro.atomic import atomic_path


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically unless the file already holds exactly these bytes; True if written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        os.chmod(tmp, _file_mode())
    return True
