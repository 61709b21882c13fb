"""``ganrepro download``: fetch a registered data set's archives, verify them, and extract them safely.

Order for each archive (nothing is trusted before its hash is checked):
1. fetch into ``raw/.{file}.part`` (resumable, retried: :mod:`ganrepro.preparation.transfer`);
2. hash it and compare with the registry's sha256, else with the hash locked at the first download;
3. read it through once (refusing unsafe members and catching truncation);
4. rename it atomically to ``raw/{file}``; 5. extract all-or-nothing into ``extracted/{stem}/``; only then is
   a first-seen hash recorded in the lock file (a hostile archive that fails extraction cannot pin its hash).
A failure at 2, 3 or 5 deletes the download: no half file and nothing extracted is left behind.
Each archive is handled under an exclusive lock (``DATA_DIR/.NAME.FILE.lock``): a second ``download`` of the
same archive waits, then finds it verified, instead of writing into the same partial file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ganrepro.atomic import write_json
from ganrepro.errors import DataError
from ganrepro.hashing import sha256_file
from ganrepro.paths import data_dir as resolve_data_dir
from ganrepro.preparation.checksums import ChecksumLock
from ganrepro.preparation.extract import safe_extract, scan_archive
from ganrepro.preparation.registry import ArchiveSpec, DatasetSpec, extracted_dir, raw_dir
from ganrepro.preparation.transfer import OfflineError, RetryPolicy, fetch

MIRROR_ENV = "GANREPRO_MIRROR"

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class ArchiveResult:
    """What happened to one archive: its verified hash, where it came from, how it was checked."""

    file: str
    sha256: str
    size: int
    source: str
    check: str  # registry | lock | recorded (first download: hash just locked) | cached (verified before)
    fetched: bool
    members: int | None = None  # from the full read that preceded the hash lock / extraction


def mirror_url(mirror: str, file: str) -> str:
    """``BASE/{file}``: a mirror holds the archives under their registry file names."""
    return mirror.rstrip("/") + "/" + file


def resolve_mirror(explicit: str | None) -> str | None:
    """``--mirror`` wins over ``$GANREPRO_MIRROR``; an empty value means no mirror; anything but an
    http(s):// or file:// URL is refused before anything is written."""
    value = explicit if explicit is not None else os.environ.get(MIRROR_ENV)
    if not value:
        return None
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme.lower() not in ("http", "https", "file") or not (parsed.netloc or parsed.path):
        where = "--mirror" if explicit is not None else f"${MIRROR_ENV}"
        raise DataError(
            f"{where} {value!r} is not an http(s):// or file:// URL; give e.g. "
            "https://host/dir or file:///folder/holding/the/archives"
        )
    return value


def marker_path(spec: DatasetSpec, archive: ArchiveSpec, data_dir: Path) -> Path:
    """``extracted/{stem}.json``: written after a complete extraction, names the archive hash it came from."""
    return extracted_dir(spec.name, data_dir) / f"{archive.stem}.json"


def download_dataset(
    spec: DatasetSpec,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 (a frozen dataclass: one shared default is safe)
    force: bool = False,
    log: Log = _stderr,
) -> list[ArchiveResult]:
    """Fetch, verify and extract every archive of ``spec``; already verified ones are skipped."""
    if not spec.archives:
        raise DataError(f"{spec.name} has nothing to download; run `ganrepro prepare {spec.name}`")
    root = resolve_data_dir(data_dir)
    results = []
    for archive in spec.archives:
        with archive_lock(spec, archive, root):
            results.append(_acquire(spec, archive, root, mirror, policy, force, log))
    return results


@contextlib.contextmanager
def archive_lock(spec: DatasetSpec, archive: ArchiveSpec, root: Path) -> Iterator[None]:
    """Hold ``DATA_DIR/.NAME.FILE.lock`` exclusively, waiting for another process that holds it.

    The kernel releases the lock if its holder dies.  The holder deletes the file before releasing it, so
    nothing is left behind; a waiter that then wins the old, deleted file sees that the path no longer
    names it and locks the new one instead.
    """
    path = root / f".{spec.name}.{archive.file}.lock"
    while True:
        try:
            root.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")  # noqa: SIM115 (held for the whole download, closed by the caller)
        except OSError as err:
            raise DataError(
                f"cannot use the data folder {root}: {err.strerror or err}; "
                "pass --data-dir (or set $GANREPRO_DATA_DIR) to a writable folder"
            ) from None
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                continue
            if current.st_ino != os.fstat(handle.fileno()).st_ino:
                continue
            try:
                yield
            finally:
                path.unlink(missing_ok=True)
            return


def ensure_extracted(
    spec: DatasetSpec, data_dir: str | os.PathLike[str] | None = None, *, log: Log = _stderr
) -> dict[str, tuple[Path, str]]:
    """``{file: (extracted folder, sha256)}`` for every archive, verifying/extracting raw files as needed.

    Used by ``prepare``: a raw archive copied in by hand (Cityscapes) is verified and extracted here.
    """
    root = resolve_data_dir(data_dir)
    out: dict[str, tuple[Path, str]] = {}
    for archive in spec.archives:
        raw = raw_dir(spec.name, root) / archive.file
        if not raw.is_file():
            raise DataError(
                f"{spec.name}: {raw} not found; run `ganrepro download {spec.name}` first"
                + (" (with --mirror file:///folder/holding/the/zips)" if spec.manual else "")
            )
        with archive_lock(spec, archive, root):
            result = _acquire(spec, archive, root, None, RetryPolicy(), False, log)
        out[archive.file] = (extracted_dir(spec.name, root) / archive.stem, result.sha256)
    return out


def _acquire(
    spec: DatasetSpec, archive: ArchiveSpec, root: Path, mirror: str | None, policy: RetryPolicy, force: bool, log: Log
) -> ArchiveResult:
    raw = raw_dir(spec.name, root) / archive.file
    marker = marker_path(spec, archive, root)
    target = extracted_dir(spec.name, root) / archive.stem
    if raw.is_file() and not force:
        done = _read_marker(marker)
        if (
            done is not None
            and done.get("size") == raw.stat().st_size
            and target.is_dir()
            and archive.sha256 in (None, done["sha256"])
        ):
            log(f"{spec.name}: {archive.file} already downloaded and extracted (sha256 {done['sha256']})")
            return ArchiveResult(archive.file, done["sha256"], done["size"], str(raw), "cached", False)
        result = _verify(spec, archive, raw, root, source=str(raw), log=log, fetched=False)
    else:
        result = _download(spec, archive, raw, root, mirror, policy, log)
    log(f"{spec.name}: extracting {archive.file} ...")
    try:
        count = safe_extract(raw, target, scanned=result.members)
    except DataError:
        if result.fetched:
            _discard(raw)
        raise
    if result.check == "recorded":
        lock = ChecksumLock(root)
        lock.record(spec.name, archive.file, result.sha256, result.size, result.source)
        log(
            f"{spec.name}: no published sha256 for {archive.file}; recorded {result.sha256} from this first "
            f"download in {lock.path} -- later downloads are verified against it"
        )
    write_json(marker, {"file": archive.file, "sha256": result.sha256, "size": result.size, "members": count})
    log(f"{spec.name}: {archive.file}: {count} members extracted to {target}")
    return result


def _download(
    spec: DatasetSpec, archive: ArchiveSpec, raw: Path, root: Path, mirror: str | None, policy: RetryPolicy, log: Log
) -> ArchiveResult:
    url = mirror_url(mirror, archive.file) if mirror else archive.url
    if spec.manual and not mirror:
        raise DataError(
            f"{spec.name} cannot be downloaded automatically (licence): log in at the official site, fetch "
            f"{archive.file} ({archive.url}), then copy it into {raw.parent}/ or pass --mirror "
            f"file:///folder/holding/it (or set ${MIRROR_ENV})"
        )
    part = raw.with_name(f".{archive.file}.part")
    raw.parent.mkdir(parents=True, exist_ok=True)
    marker_path(spec, archive, root).unlink(missing_ok=True)
    log(f"{spec.name}: downloading {url}")
    try:
        fetch(url, part, policy, label=archive.file, log=log)
    except OfflineError as err:
        _discard(part)
        raise DataError(
            f"{err}: wanted {archive.file} for {spec.name}; no network? pass --mirror BASE_URL "
            f"(or set ${MIRROR_ENV}) to a server or file:// folder holding {archive.file}"
        ) from None
    except DataError:
        _discard(part)
        raise
    except KeyboardInterrupt:
        log(f"{spec.name}: interrupted; {part} kept, run the same command again to resume")
        raise
    try:
        result = _verify(spec, archive, part, root, source=url, log=log, fetched=True)
    except BaseException:
        _discard(part)
        raise
    os.replace(part, raw)
    return result


def _verify(
    spec: DatasetSpec, archive: ArchiveSpec, path: Path, root: Path, *, source: str, log: Log, fetched: bool
) -> ArchiveResult:
    """Check ``path`` against the registry hash or the locked one and read it through (check ``recorded``:
    no hash to check against yet)."""
    size = path.stat().st_size
    digest = sha256_file(path)
    lock = ChecksumLock(root)
    locked = lock.get(spec.name, archive.file)
    if archive.sha256 is not None:
        expected, check = archive.sha256, "registry"
    elif locked is not None:
        expected, check = locked["sha256"], "lock"
    else:
        expected, check = None, "recorded"
    if expected is not None and digest != expected:
        where = "the registry (params/datasets.yaml)" if check == "registry" else f"the lock file {lock.path}"
        raise DataError(
            f"checksum mismatch for {archive.file} from {source}: expected sha256 {expected} "
            f"({where}), got {digest} ({size} bytes); nothing was extracted"
            + ("; the download was deleted" if fetched else f"; delete {path} to fetch it again")
        )
    members = scan_archive(path)
    if check != "recorded":  # a first-seen hash is recorded by the caller, after a clean extraction
        log(f"{spec.name}: {archive.file} sha256 {digest} verified against the {check}")
    return ArchiveResult(archive.file, digest, size, source, check, fetched, members)


def _read_marker(marker: Path) -> dict | None:
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "sha256" in data and "size" in data else None


def _discard(part: Path) -> None:
    """Delete a failed partial download, and the raw/ and data set folders if that leaves them empty."""
    part.unlink(missing_ok=True)
    for folder in (part.parent, part.parent.parent):
        try:
            folder.rmdir()
        except OSError:
            break
