"""Helpers for the data-layer tests: a local HTTP server, archives built in memory, a test registry.

The server (127.0.0.1, ephemeral port, one thread per request) serves ``files`` {url path: bytes}, honours
``Range: bytes=N-`` requests (206 + Content-Range) unless told not to, can cut a file's first response
half-way (full Content-Length announced, half the body sent, connection closed), and can answer 503 a
number of times first.  It records every request's path and Range header.
"""

from __future__ import annotations

import io
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from ganrepro.paths import PACKAGE_ROOT
from ganrepro.preparation.registry import DatasetSpec, load_registry

REAL_REGISTRY = PACKAGE_ROOT / "params" / "datasets.yaml"


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_once: set[str] = field(default_factory=set)
    fail_503: dict[str, int] = field(default_factory=dict)
    honour_range: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        state = self.server.state  # type: ignore[attr-defined]
        state.requests.append((self.path, self.headers.get("Range")))
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        if state.fail_503.get(self.path, 0) > 0:
            state.fail_503[self.path] -= 1
            self.send_error(503, "Service Unavailable")
            return
        start = 0
        ranged = self.headers.get("Range")
        if ranged and state.honour_range and ranged.startswith("bytes="):
            start = int(ranged[6:].split("-")[0])
            if start >= len(body):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if self.path in state.cut_once:
            state.cut_once.discard(self.path)
            self.wfile.write(chunk[: len(chunk) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(chunk)


class LocalServer:
    """``with LocalServer() as srv: srv.state.files['/x.tar.gz'] = data; srv.url`` -> http://127.0.0.1:PORT."""

    def __init__(self) -> None:
        self.state = ServerState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.state = self.state  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------------- archives


def tar_gz(members: dict[str, bytes], links: dict[str, tuple[str, bool]] | None = None) -> bytes:
    """A .tar.gz with regular files ``members`` and ``links`` {name: (target, is_symlink)}; names verbatim."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, (target, symbolic) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE if symbolic else tarfile.LNKTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def image_bytes(pixels: np.ndarray, fmt: str = "JPEG", **options: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **options)
    return buf.getvalue()


def facade_pairs(count: int, size: int = 32, seed: int = 0, fmt: str = "JPEG") -> list[bytes]:
    """``count`` facades-like A|B pairs (photo | CMP colour map) from the synthetic generator."""
    from ganrepro.preparation.labels import palette_array, render_colour_map
    from ganrepro.preparation.synthetic import scene

    palette = palette_array(load_registry(REAL_REGISTRY)["facades"].labels)  # type: ignore[arg-type]
    out = []
    for i in range(count):
        photo, labels = scene(seed, "train", i + 1, size)
        pair = np.concatenate([photo, render_colour_map(labels, palette)], axis=1)
        out.append(image_bytes(pair, fmt, **({"quality": 95} if fmt == "JPEG" else {})))
    return out


def facades_archive(train: int = 4, test: int = 2, size: int = 32, root: str = "toy") -> bytes:
    members = {f"{root}/train/{i + 1}.jpg": b for i, b in enumerate(facade_pairs(train, size, seed=1))}
    members.update({f"{root}/test/{i + 1}.jpg": b for i, b in enumerate(facade_pairs(test, size, seed=2))})
    return tar_gz(members)


# ---------------------------------------------------------------------------------------------- registry


def write_registry(folder: Path, datasets: dict[str, dict[str, Any]]) -> Path:
    """A datasets.yaml with the real label sets and the given entries; returns its path."""
    real = yaml.safe_load(REAL_REGISTRY.read_text())
    path = folder / "datasets.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"label_sets": real["label_sets"], "datasets": datasets}, sort_keys=False))
    return path


def entry(
    file: str,
    url: str,
    *,
    sha256: str | None = None,
    recipe: str = "aligned",
    root: str = "toy",
    labels: str | None = "cmp_facades",
    splits: dict[str, int] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A registry entry for a test archive (facades-like by default)."""
    kind = "unaligned" if recipe == "unaligned" else "aligned"
    fmt = "zip" if file.endswith(".zip") else "tar.gz"
    return {
        "family": "test",
        "kind": kind,
        "recipe": recipe,
        "root": root,
        "archives": [{"file": file, "format": fmt, "sha256": sha256, "url": url}],
        "splits": splits if splits is not None else {"train": 4, "test": 2},
        "image_size": 32,
        "photo_side": "A" if labels else None,
        "labels_to_photo": "BtoA" if labels else None,
        "labels": labels,
        **extra,
    }


def spec_for(folder: Path, name: str, body: dict[str, Any]) -> DatasetSpec:
    return load_registry(write_registry(folder, {name: body}))[name]
