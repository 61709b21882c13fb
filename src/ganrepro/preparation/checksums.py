"""The data dir's lock file of first-seen archive hashes (the hashes themselves: :mod:`ganrepro.hashing`).

Most of the original archives have no published checksum.  Rather than trusting whatever arrives each
time, the first verified download of an archive records its sha256 in ``{data_dir}/datasets.lock.json``
("trust on first use"); every later download or re-extraction of that archive must match it, so a silently
changed upstream file or a corrupted mirror copy is caught.  The lock file can be committed or shared to pin
a team to the same bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganrepro.atomic import write_json
from ganrepro.errors import DataError

LOCK_NAME = "datasets.lock.json"


class ChecksumLock:
    """``{data_dir}/datasets.lock.json``: ``{"<dataset>/<file>": {"sha256", "size", "url"}}``.

    Updates take an exclusive ``flock`` on a sidecar file and rewrite the JSON atomically, so two downloads
    running at once cannot lose each other's entries.
    """

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / LOCK_NAME

    def entries(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read the checksum lock file {self.path}: {err}") from None
        if not isinstance(data, dict):
            raise DataError(f"checksum lock file {self.path} is not a JSON object")
        return data

    def get(self, dataset: str, file: str) -> dict[str, Any] | None:
        return self.entries().get(f"{dataset}/{file}")

    def record(self, dataset: str, file: str, sha256: str, size: int, url: str) -> None:
        """Record a first-seen hash (never overwrites a different one: that would defeat the lock)."""
        key = f"{dataset}/{file}"
        with self._exclusive():
            data = self.entries()
            old = data.get(key)
            if old is not None and old.get("sha256") != sha256:
                raise DataError(f"{self.path}: {key} is locked to sha256 {old.get('sha256')}, not {sha256}")
            data[key] = {"sha256": sha256, "size": size, "url": url}
            write_json(self.path, dict(sorted(data.items())))

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{LOCK_NAME}.flock"), "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
