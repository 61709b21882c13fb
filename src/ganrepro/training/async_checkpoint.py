"""Checkpoints written in the background: the step loop pays only for a copy into host memory.

Writing a paper-scale checkpoint (hundreds of MB) takes seconds; the loop cannot wait for it at every epoch.
:meth:`CheckpointWriter.submit` takes a snapshot of the state on the calling thread (device tensors copied to
host memory, CPU tensors cloned, RNG states captured then), so training may go on changing the live tensors,
and a thread writes the snapshot with :func:`ganrepro.atomic.torch_save` (temporary file + rename): a crash
mid-write leaves the previous ``latest.pt`` complete.  One write is in flight at a time; the next submit, and
:meth:`wait`, block until it is on disk and re-raise its error on the training thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganrepro import atomic


def host_copy(value: Any) -> Any:
    """A copy of ``value`` (nested dicts/lists/tuples of tensors) that shares no storage with the original.

    Device tensors are copied without blocking into (pinned) host memory; the caller synchronises once."""
    if isinstance(value, torch.Tensor):
        if value.device.type == "cpu":
            return value.detach().clone()
        return value.detach().to("cpu", non_blocking=True)
    if isinstance(value, dict):
        return {key: host_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(host_copy(item) for item in value)
    return value


class CheckpointWriter:
    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, path: Path, payload: dict[str, Any], after: Callable[[], None] | None = None) -> None:
        """Snapshot ``payload`` now and write it to ``path`` in the background, then run ``after`` there
        (e.g. keep a named copy of the new file) so that the loop waits for neither."""

        def write(snapshot: dict[str, Any]) -> None:
            atomic.torch_save(snapshot, path)
            if after is not None:
                after()

        self.run(payload, write)

    def run(self, payload: Any, write: Callable[[Any], None]) -> None:
        """Snapshot ``payload`` now and call ``write(snapshot)`` in the background (a pack commits all its
        members' checkpoints in one such call)."""
        self.wait()
        snapshot = host_copy(payload)
        if torch.cuda.is_available():
            torch.cuda.synchronize()  # the non-blocking copies above have landed
        self._thread = threading.Thread(target=self._write, args=(snapshot, write), name="checkpoint-writer")
        self._thread.start()

    def _write(self, snapshot: Any, write: Callable[[Any], None]) -> None:
        try:
            write(snapshot)
        except BaseException as err:  # re-raised on the training thread by wait()
            self._error = err

    def wait(self) -> None:
        """Block until the last submitted checkpoint is on disk; raise its write error, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
