"""Building ``prepared/`` all-or-nothing: recipes write into a staging folder that replaces it on success.

A preparation that stops half-way (a bad image, Ctrl-C, a full disk) must not leave a half-prepared folder
that a trainer would happily read, so every recipe writes through a :class:`PreparedBuilder`: files go to a
hidden folder beside ``prepared/``; :meth:`PreparedBuilder.commit` hashes them, writes ``manifest.json``
and swaps the folder into place; leaving the ``with`` block with an exception removes the staging folder.
A process killed outright (``kill -9``) cannot clean up, so staging folders carry their owner's pid
(``.prepared.building-PID-*``) and the next preparation removes those whose owner is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image

from ganrepro.atomic import write_json
from ganrepro.preparation.manifest import MANIFEST_NAME, data_hash, hash_tree

BUILDING = ".prepared.building-"
OLD = ".prepared.old-"


def remove_stale(folder: Path, prefixes: tuple[str, ...] = (BUILDING, OLD)) -> list[Path]:
    """Delete the staging folders ``{prefix}{pid}-*`` in ``folder`` whose owning process is gone; return them.

    A folder without a pid in its name (made by an older version) has no owner to wait for and is removed too.
    """
    removed = []
    for path in folder.iterdir() if folder.is_dir() else ():
        prefix = next((p for p in prefixes if path.name.startswith(p)), None)
        if prefix is None or not path.is_dir():
            continue
        pid = path.name[len(prefix) :].split("-")[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def staging_prefix(prefix: str) -> str:
    """``{prefix}{pid}-``: the name start of a staging folder owned by this process."""
    return f"{prefix}{os.getpid()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class PreparedBuilder:
    """Collects files, split counts, image sizes and notes for one ``prepared/`` folder."""

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(self.target.parent)
        self.root = Path(tempfile.mkdtemp(prefix=staging_prefix(BUILDING), dir=self.target.parent))
        self.notes: list[str] = []
        self.splits: dict[str, int] = {}
        self.sizes: Counter[tuple[int, int]] = Counter()
        self.extra: dict[str, Any] = {}  # recipe-specific manifest keys (label decoding statistics, ...)

    # ------------------------------------------------------------------------------------------ writing
    def path(self, rel: str) -> Path:
        """Absolute staging path of ``rel`` (parents created)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def copy(self, src: str | os.PathLike[str], rel: str) -> None:
        """Copy bytes unchanged (source JPEGs are never re-encoded)."""
        shutil.copyfile(src, self.path(rel))

    def save_png(self, pixels: np.ndarray, rel: str) -> None:
        """Write uint8 pixels ((H, W) class indices or (H, W, 3) RGB) as PNG."""
        Image.fromarray(np.ascontiguousarray(pixels)).save(self.path(rel), format="PNG")

    def save_json(self, obj: Any, rel: str) -> None:
        write_json(self.path(rel), obj)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def count(self, split: str, size: tuple[int, int] | None = None) -> None:
        """Count one image of ``split``; ``size`` is (w, h) of one side, tallied for ``image_size``."""
        self.splits[split] = self.splits.get(split, 0) + 1
        if size is not None:
            self.sizes[size] += 1

    # ------------------------------------------------------------------------------------------ finishing
    def image_size(self) -> list[int] | None:
        """The most common side size [w, h]; a note lists the others when sizes vary."""
        if not self.sizes:
            return None
        (common, _), *others = self.sizes.most_common()
        if others:
            self.note(f"image sizes vary: {dict((f'{w}x{h}', n) for (w, h), n in self.sizes.most_common())}")
        return [common[0], common[1]]

    def compare_splits(self, official: dict[str, int]) -> None:
        """A note (not an error) when the counts differ from the registry's official ones."""
        if official and dict(sorted(self.splits.items())) != dict(sorted(official.items())):
            self.note(
                f"split counts {dict(sorted(self.splits.items()))} differ from the official "
                f"{dict(sorted(official.items()))} (a different copy or repack of the data set)"
            )

    def commit(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Hash every file, write the manifest (``fields`` + files/data_hash/notes), swap into place."""
        files = hash_tree(self.root)
        manifest = {**fields, **self.extra, "notes": list(self.notes), "data_hash": data_hash(files), "files": files}
        write_json(self.root / MANIFEST_NAME, manifest)
        old = None
        if self.target.exists():
            old = Path(tempfile.mkdtemp(prefix=staging_prefix(OLD), dir=self.target.parent))
            os.replace(self.target, old / "prepared")
        os.replace(self.root, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return manifest

    def abort(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PreparedBuilder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None or self.root.exists():
            self.abort()
