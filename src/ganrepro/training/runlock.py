"""One training process per run directory: an exclusive ``flock`` on ``RUN_DIR/.train.lock``.

Two ``ganrepro train`` processes on one RUN_DIR would interleave ``losses.csv`` and overwrite each other's
checkpoints.  The lock is held for the whole run and written with the holder's pid, so a second process is
refused at once with a line naming that pid.  The kernel releases a ``flock`` when its holder dies (even by
``kill -9``), so a killed run never leaves a stale lock behind: the same command simply resumes.  The lock
file itself is never deleted (deleting it would let a third process lock a new file while the first still
holds the old one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from ganrepro.errors import UserError

LOCK_FILE = ".train.lock"


class RunLock:
    """``with RunLock(run_dir):`` -- refuse (UserError) when another process trains into ``run_dir``."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.fd: int | None = None
        self.claimed = False  # set once the run directory holds the run's config (see :func:`locked`)

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"{self.path.parent} is in use by another training process (pid {holder}); "
                "wait for it to finish or stop it, then run this command again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


@contextlib.contextmanager
def locked(run_dir: str | os.PathLike[str]) -> Iterator[RunLock]:
    """Create ``run_dir`` if needed and hold its lock; if this call created the folder and the run never
    claimed it (``lock.claimed`` still False when the block exits), remove it again: a start that failed
    leaves nothing behind."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"cannot create the run directory {run_dir}: {err.strerror or err}; choose another --out"
        ) from None
    lock = RunLock(run_dir)
    lock.acquire()
    try:
        yield lock
    finally:
        if created and not lock.claimed:
            lock.path.unlink(missing_ok=True)
            lock.release()
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        lock.release()
