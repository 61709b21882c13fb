"""Where table builds are recorded in MLflow, and safe access to that store from many jobs at once.

The store is ``$MLFLOW_TRACKING_URI`` if set, else an sqlite database ``mlflow.db`` in the working directory,
always written as an *absolute* URI: a relative one silently splits the runs of jobs that run in other
folders (DVC queue copies, cluster scratch directories) over several databases.

Creating an sqlite database runs MLflow's schema migrations, which crash when several processes do it at
once, and two processes creating the same experiment race too.  Both therefore happen under an exclusive
``fcntl`` lock on a file beside the database.  Once the schema exists, concurrent writers are fine (sqlite
serialises them), but a writer can still time out on a busy database, so every write goes through
:func:`retry`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from ganrepro.errors import UserError

if TYPE_CHECKING:
    from mlflow import MlflowClient

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
EXPERIMENT_PREFIX = "ganrepro/"
LOCK_TIMEOUT_S = 600.0
RETRY_ATTEMPTS = 8

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------- where


def tracking_uri(cwd: str | os.PathLike[str] | None = None) -> str:
    """``$MLFLOW_TRACKING_URI`` (a relative sqlite path made absolute), else ``sqlite:///<cwd>/mlflow.db``."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    base = base.absolute()
    env = os.environ.get(TRACKING_URI_ENV, "").strip()
    if not env:
        return f"sqlite:///{base / DB_NAME}"
    return absolute_uri(env, base)


def absolute_uri(uri: str, base: Path) -> str:
    """A relative ``sqlite:///rel.db`` becomes ``sqlite:////base/rel.db``; every other URI is kept as given."""
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path = uri[len(prefix) :]
        if path and not path.startswith("/") and not path.startswith(":memory:"):
            return f"{prefix}{base / path}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of an ``sqlite:////abs/file.db`` URI; None for any other kind of store."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = uri[len(prefix) :].split("?", 1)[0]
    return Path(path) if path.startswith("/") else None


def file_store_path(uri: str) -> Path | None:
    """The folder of a local file store (``file:///abs/mlruns`` or a bare absolute path); else None."""
    if uri.startswith("file:"):
        return Path(urlparse(uri).path)
    if uri.startswith("/"):
        return Path(uri)
    return None


def store_home(uri: str) -> Path | None:
    """The local folder that holds the store (where artifacts and the lock go); None for a server."""
    db = sqlite_path(uri)
    if db is not None:
        return db.parent
    folder = file_store_path(uri)
    return folder.parent if folder is not None else None


def experiment_name(table: str) -> str:
    return f"{EXPERIMENT_PREFIX}{table}"


def artifact_location(uri: str, table: str) -> str | None:
    """``file:///<store folder>/mlartifacts/<table>`` for a local store, so artifacts sit beside the database
    under an absolute path; None (the server's default) for a remote tracking server."""
    home = store_home(uri)
    return (home / ARTIFACTS_DIR / table).as_uri() if home is not None else None


def lock_path(uri: str) -> Path | None:
    db = sqlite_path(uri)
    if db is not None:
        return db.with_name(db.name + ".lock")
    folder = file_store_path(uri)
    return folder.with_name(folder.name + ".lock") if folder is not None else None


# ------------------------------------------------------------------------------------------------- safety


@contextlib.contextmanager
def store_lock(uri: str, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the store's exclusive lock (a no-op for a tracking server, which serialises on its own)."""
    path = lock_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        delay = 0.02
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UserError(
                        f"could not lock {path} within {timeout_s:.0f} s; is another ganrepro track command stuck?"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_locked_error(err: BaseException) -> bool:
    return "database is locked" in str(err).lower()


def retry(fn: Callable[..., T], *args: Any, attempts: int = RETRY_ATTEMPTS, **kwargs: Any) -> T:
    """Call ``fn``, retrying with jittered backoff while sqlite answers "database is locked"."""
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if attempt == attempts - 1 or not is_locked_error(err):
                raise
            time.sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------------- access


def open_client(uri: str, must_exist: bool = False) -> MlflowClient:
    """A client whose store is initialised (schema created or checked) under the lock.

    ``must_exist`` refuses to create a new sqlite database: a child run belongs in the database that holds
    its parent, and a missing one means the parent record points somewhere stale.
    """
    from mlflow import MlflowClient

    db = sqlite_path(uri)
    if must_exist and db is not None and not db.is_file():
        raise UserError(f"MLflow database {db} does not exist; run `ganrepro track start` first")
    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        retry(client.search_experiments, max_results=1)
    return client


def ensure_experiment(client: MlflowClient, uri: str, table: str) -> str:
    """The id of experiment ``ganrepro/<table>``, created (or restored, if deleted) under the lock."""
    from mlflow.exceptions import MlflowException

    name = experiment_name(table)
    with store_lock(uri):
        experiment = retry(client.get_experiment_by_name, name)
        if experiment is None:
            try:
                return retry(
                    client.create_experiment,
                    name,
                    artifact_location=artifact_location(uri, table),
                    tags={"ganrepro.table": table},
                )
            except MlflowException:
                experiment = retry(client.get_experiment_by_name, name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            retry(client.restore_experiment, experiment.experiment_id)
        return str(experiment.experiment_id)
