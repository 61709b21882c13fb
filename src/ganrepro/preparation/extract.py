"""Checking and extracting tar/zip archives without trusting their member names.

An archive from a mirror is data from a stranger: a member called ``/etc/x`` or ``../../x``, or a link
pointing out of the target, would write outside the data folder.  :func:`scan_archive` reads the whole
archive once (which also catches truncated or corrupt files: gzip end-of-stream errors, zip CRC errors) and
refuses such members before a single byte is written; :func:`safe_extract` then extracts into a temporary
folder beside the target and renames it into place, so a failure leaves nothing extracted.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

from ganrepro.errors import DataError

_ZIP_BAD = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)
_TAR_BAD = (tarfile.TarError, zlib.error, EOFError, OSError)


def is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def _unsafe_name(name: str) -> str | None:
    """Why a member name is refused, or None when it stays inside the target."""
    if not name or "\x00" in name:
        return "empty or NUL in the name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' component"
    return None


class LinkTree:
    """The archive's links as extraction would create them, so that paths are resolved through all of them.

    Checking each link alone is not enough: ``d/up -> ..`` stays inside, but then ``d/up/up2 -> ..`` lands
    one level above the target, because ``d/up`` already is the root.  Every member path is therefore resolved
    through the symlinks of the members before it (as the file system will resolve it), and a path that
    resolves outside the target, or that needs more than :attr:`MAX_HOPS` links, is refused.
    """

    MAX_HOPS = 64

    def __init__(self) -> None:
        self.symlinks: dict[str, str] = {}  # resolved location ('a/b') -> link text

    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """The location of ``path`` (relative to the target) after following links; None when it leaves."""
        todo = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if not done:
                    return None
                done.pop()
                continue
            here = "/".join([*done, part])
            link = self.symlinks.get(here)
            if link is None or (not todo and not follow_last):
                done.append(part)
                continue
            hops += 1
            if hops > self.MAX_HOPS or link.startswith(("/", "\\")):
                return None
            todo = [p for p in link.replace("\\", "/").split("/") if p not in ("", ".")] + todo
        return "/".join(done)

    def add(self, member: str, target: str, hard: bool) -> bool:
        """Record a link member; False when it (or the folder it is in) resolves outside the target."""
        where = self.resolve(posixpath.dirname(member))
        if where is None or target.startswith(("/", "\\")):
            return False
        if hard:  # a hard link names a member relative to the archive root
            return self.resolve(target) is not None
        if self.resolve(posixpath.join(where, target)) is None:
            return False
        self.symlinks[posixpath.join(where, posixpath.basename(member)) if where else posixpath.basename(member)] = (
            target
        )
        return True


def _link_escapes(member: str, target: str, hard: bool) -> bool:
    """True when a single link (symlink relative to its folder, hard link relative to the root) leaves."""
    return not LinkTree().add(member, target, hard)


def scan_archive(path: str | os.PathLike[str]) -> int:
    """Read the whole archive, refuse unsafe members; return the number of members.  DataError names why."""
    path = Path(path)
    if is_zip(path):
        return _scan_zip(path)
    try:
        with tarfile.open(path, "r:*") as tar:
            count = 0
            links = LinkTree()
            for member in tar:
                _check_tar_member(path, member, links)
                if member.isreg():  # read the data too: a truncated stream fails here, not half-way later
                    handle = tar.extractfile(member)
                    if handle is not None:
                        while handle.read(1 << 20):
                            pass
                count += 1
            # Read the compressed stream to its end: the gzip/bz2/xz checksums sit there, after the tar
            # end-of-archive blocks, and a flipped byte inside a member is only caught by them.
            while tar.fileobj is not None and tar.fileobj.read(1 << 20):
                pass
            return count
    except DataError:
        raise
    except _TAR_BAD as err:
        raise DataError(f"{path}: corrupt or truncated archive ({err or type(err).__name__})") from None


def _check_tar_member(path: Path, member: tarfile.TarInfo, links: LinkTree) -> None:
    why = _unsafe_name(member.name)
    if why is None and (member.issym() or member.islnk()):
        if not links.add(member.name, member.linkname, hard=member.islnk()):
            why = f"link to {member.linkname!r} leaves the target folder (following the archive's links)"
    elif why is None and links.resolve(member.name) is None:
        why = "its path leads out of the target folder through the archive's links"
    if why is None and not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        why = "device, fifo or other special file"
    if why is not None:
        raise DataError(f"{path}: refusing unsafe archive member {member.name!r}: {why}; nothing was extracted")


def _scan_zip(path: Path) -> int:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            for info in infos:
                why = _unsafe_name(info.filename)
                link = why is None and stat.S_ISLNK(info.external_attr >> 16)
                if link and _link_escapes(info.filename, archive.read(info).decode("utf-8", "replace"), hard=False):
                    why = "symbolic link that leaves the target folder"
                if why is not None:
                    raise DataError(
                        f"{path}: refusing unsafe archive member {info.filename!r}: {why}; nothing was extracted"
                    )
            bad = archive.testzip()
            if bad is not None:
                raise DataError(f"{path}: corrupt archive (CRC error in {bad!r})")
            return len(infos)
    except DataError:
        raise
    except _ZIP_BAD as err:
        raise DataError(f"{path}: corrupt or truncated archive ({err or type(err).__name__})") from None


def safe_extract(archive: str | os.PathLike[str], target: str | os.PathLike[str], *, scanned: int | None = None) -> int:
    """Extract ``archive`` into ``target`` (replacing it) all-or-nothing; return the member count.

    ``scanned``: the member count from an earlier :func:`scan_archive` of the same (verified) file, to skip
    a second full read.
    """
    archive, target = Path(archive), Path(target)
    count = scanned if scanned is not None else scan_archive(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.extracting-", dir=target.parent))
    try:
        if is_zip(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)  # names were checked by scan_archive
        else:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(staging, filter="data")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except (*_TAR_BAD, *_ZIP_BAD, tarfile.FilterError) as err:
        raise DataError(f"{archive}: extraction failed ({err}); nothing was extracted") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return count
