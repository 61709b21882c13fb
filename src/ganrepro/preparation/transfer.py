"""Streaming one URL (http, https or file) into a partial file, resuming and retrying transient failures.

Dataset archives are large (up to ~8 GB) and the servers are university web servers: connections drop.
So the body is streamed in chunks into a ``.part`` file; after a cut, the next attempt asks for the rest
with an HTTP ``Range`` request (and starts over when the server ignores or refuses it), and transient
failures (timeouts, resets, truncated bodies, HTTP 5xx/408/429) are retried with exponential backoff.
Failures that cannot heal by waiting (no DNS / no route: offline; HTTP 404; a missing local file) stop at
once.  Hash checking and renaming are the caller's job (:mod:`ganrepro.preparation.download`).
"""

from __future__ import annotations

import errno
import http.client
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganrepro import __version__
from ganrepro.errors import DataError

_CHUNK = 1 << 20
_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}


class OfflineError(DataError):
    """The host cannot be resolved or reached at all: retrying will not help."""


class TransientError(Exception):
    """A failure worth retrying (internal to this module and its caller)."""


class _RangeRefused(TransientError):
    """HTTP 416 on a resume: the partial file is useless (already complete, or the file changed)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``retries`` extra attempts, sleeping ``backoff * 2**k`` seconds before attempt k+1."""

    retries: int = 4
    backoff: float = 2.0
    timeout: float = 60.0


def fetch(
    url: str,
    part: Path,
    policy: RetryPolicy = RetryPolicy(),
    *,
    label: str = "",
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Stream ``url`` into ``part`` (resuming from its current size); return the final size in bytes.

    Raises :class:`OfflineError` or :class:`DataError` (permanent failures, or transient ones that outlived
    the retries).  ``part`` is left as it is; the caller decides whether to keep or delete it.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    attempt = 0
    while True:
        try:
            return _fetch_once(url, part, policy.timeout, label or Path(part).name)
        except TransientError as err:
            attempt += 1
            if attempt > policy.retries:
                raise DataError(f"download of {url} failed after {attempt} attempts: {err}") from None
            delay = policy.backoff * 2 ** (attempt - 1)
            have = part.stat().st_size if part.exists() else 0
            log(
                f"{label or url}: {err}; retry {attempt}/{policy.retries} in {delay:g}s"
                + (f" (resuming at {have} bytes)" if have else "")
            )
            sleep(delay)


def _open(url: str, offset: int, timeout: float):  # -> http.client.HTTPResponse | urllib.response.addinfourl
    headers = {"User-Agent": f"ganrepro/{__version__}"}
    if offset and url.lower().startswith(("http://", "https://")):
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            raise _RangeRefused("server refused the resume range; starting over") from None
        if err.code in (408, 425, 429) or 500 <= err.code < 600:
            raise TransientError(f"HTTP {err.code} {err.reason}") from None
        raise DataError(f"{url}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, socket.gaierror) or getattr(reason, "errno", None) in _NO_ROUTE:
            raise OfflineError(f"cannot reach {url} ({reason})") from None
        if url.lower().startswith("file:"):
            raise DataError(f"{url}: cannot read local file ({reason})") from None
        raise TransientError(f"cannot connect: {reason}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as err:
        raise TransientError(f"cannot connect: {err!r}") from None


def _fetch_once(url: str, part: Path, timeout: float, label: str) -> int:
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except _RangeRefused:
        part.unlink()
        raise
    with response:
        status = response.getcode()
        if offset and status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                part.unlink()
                raise TransientError(f"server resumed at byte {start}, not {offset}; starting over")
        else:
            offset = 0  # no partial content: the body is the whole file
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        written = _stream(response, part, append=offset > 0, start=offset, total=total, label=label)
    if total is not None and written < total:
        raise TransientError(f"connection closed after {written} of {total} bytes")
    return written


def _stream(response, part: Path, *, append: bool, start: int, total: int | None, label: str) -> int:
    """Copy the body into ``part``; whatever arrived before a failure stays there for the next attempt."""
    from tqdm import tqdm

    written = start
    bar = tqdm(
        total=total,
        initial=start,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=label,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=False,
    )
    try:
        with open(part, "ab" if append else "wb") as handle:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as err:
                    raise TransientError(f"connection lost after {written} bytes ({err!r})") from None
                if not chunk:
                    break
                handle.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
    finally:
        bar.close()
    return written


def _content_range_start(value: str) -> int | None:
    match = re.match(r"\s*bytes\s+(\d+)-", value)
    return int(match.group(1)) if match else None
