"""Data reliability: symlink-chain archives, hashes pinned only after a clean extraction, concurrent downloads
(real processes against a server on 127.0.0.1), kill -9 during prepare, and the probes that already hold
(bad HTTP answers, corrupt archives, unsafe members, decompression bombs)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import tarfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from datasets_helpers import LocalServer, entry, facades_archive, spec_for, tar_gz, write_registry

from ganrepro.cli import main
from ganrepro.errors import DataError
from ganrepro.preparation.download import download_dataset
from ganrepro.preparation.extract import scan_archive
from ganrepro.preparation.imagecheck import read_checked
from ganrepro.preparation.transfer import RetryPolicy

ROOT = Path(__file__).resolve().parents[1]
FAST = RetryPolicy(retries=1, backoff=0.01, timeout=5)
GENUINE = facades_archive()
QUIET = {"log": lambda message: None}


def chain_archive(depth: int = 3) -> bytes:
    """``d/up -> ..``, ``d/up/up2 -> ..``, ... : each link stays inside on its own, the chain does not."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {"toy/train/1.jpg": b"x"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        name = "d/up"
        for level in range(depth):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, ".."
            tar.addfile(info)
            name += f"/up{level + 2}"
        info = tarfile.TarInfo(name.rsplit("/", 1)[0] + "/escaped.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"pwned"))
    return buf.getvalue()


def test_symlink_chain_is_refused_by_the_pre_scan(tmp_path: Path) -> None:
    path = tmp_path / "chain.tar.gz"
    path.write_bytes(chain_archive())
    with pytest.raises(DataError, match=r"refusing unsafe archive member 'd/up/up2'.*leaves the target"):
        scan_archive(path)


def test_links_inside_the_target_through_a_chain_are_still_allowed(tmp_path: Path) -> None:
    path = tmp_path / "ok.tar.gz"
    path.write_bytes(
        tar_gz(
            {"a/b/c.txt": b"x"},
            {
                "a/up": ("..", True),
                "a/up/a2": ("a/b", True),
                "top": ("a/up/a2/c.txt", True),
                "hard": ("a/b/c.txt", False),
            },
        )
    )
    assert scan_archive(path) == 5


def test_hostile_archive_cannot_pin_its_hash_and_the_genuine_one_then_downloads(tmp_path: Path) -> None:
    with LocalServer() as server:
        server.state.files["/toy.tar.gz"] = chain_archive()
        spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz"))
        data = tmp_path / "data"
        with pytest.raises(DataError, match="refusing unsafe archive member"):
            download_dataset(spec, data, policy=FAST, **QUIET)
        assert not (data / "datasets.lock.json").exists()
        assert not [p for p in data.rglob("*") if p.is_file()]
        server.state.files["/toy.tar.gz"] = GENUINE
        [result] = download_dataset(spec, data, policy=FAST, **QUIET)
    assert result.check == "recorded" and result.sha256 == hashlib.sha256(GENUINE).hexdigest()
    assert json.loads((data / "datasets.lock.json").read_text())["toy/toy.tar.gz"]["sha256"] == result.sha256


def test_first_hash_is_recorded_only_after_extraction_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganrepro.preparation import download

    def failing_extract(*args, **kwargs):
        raise DataError("extraction failed (simulated)")

    monkeypatch.setattr(download, "safe_extract", failing_extract)
    with LocalServer() as server:
        server.state.files["/toy.tar.gz"] = GENUINE
        spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz"))
        with pytest.raises(DataError, match="simulated"):
            download_dataset(spec, tmp_path / "data", policy=FAST, **QUIET)
    assert not (tmp_path / "data" / "datasets.lock.json").exists()
    assert not (tmp_path / "data" / "toy" / "raw" / "toy.tar.gz").exists()


class SlowHandler(BaseHTTPRequestHandler):
    """Serves one archive in small pieces over about two seconds, counting requests."""

    body = b""
    requests: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        pieces = 20
        size = len(self.body) // pieces + 1
        for i in range(pieces):
            self.wfile.write(self.body[i * size : (i + 1) * size])
            self.wfile.flush()
            time.sleep(0.1)


def test_concurrent_downloads_of_one_archive_are_serialised(tmp_path: Path) -> None:
    SlowHandler.body, SlowHandler.requests = GENUINE, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        params = tmp_path / "params"
        write_registry(params, {"toy": entry("toy.tar.gz", f"{url}/toy.tar.gz")})
        env = {**os.environ, "GANREPRO_PARAMS": str(params), "PYTHONPATH": str(ROOT / "src")}
        command = [
            sys.executable,
            "-m",
            "ganrepro.cli",
            "download",
            "toy",
            "--data-dir",
            str(tmp_path / "data"),
            "--retries",
            "0",
        ]
        procs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in outputs]
    assert SlowHandler.requests == ["/toy.tar.gz"], "the waiting processes must find the archive verified"
    assert sum("already downloaded and extracted" in err for _, err in outputs) == 2
    hidden = [p.name for p in (tmp_path / "data").rglob(".*") if p.is_file()]
    assert hidden == [".datasets.lock.json.flock"] or hidden == [], hidden


@pytest.mark.parametrize("stage", ["generating", "building"])
def test_stale_staging_folders_of_a_killed_prepare_are_removed(tmp_path: Path, stage: str) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ganrepro.cli",
            "prepare",
            "synthetic",
            "--data-dir",
            str(data),
            "--size",
            "16",
            "--train",
            "800",
            "--test",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    folder = data / "synthetic"
    pattern = (
        "extracted/.synthetic.generating-*/pairs/train/*" if stage == "generating" else ".prepared.building-*/train/*"
    )
    deadline = time.time() + 120
    while not list(folder.glob(pattern)):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stale = list(folder.glob(".prepared.*")) + list(folder.glob("extracted/.synthetic.*"))
    assert stale
    assert main(["prepare", "synthetic", "--data-dir", str(data), "--size", "16", "--train", "2", "--test", "1"]) == 0
    assert list(folder.glob(".prepared.*")) + list(folder.glob("extracted/.synthetic.*")) == []
    assert (folder / "prepared" / "manifest.json").is_file()


def test_staging_folder_of_a_live_process_is_kept(tmp_path: Path) -> None:
    from ganrepro.preparation.staging import remove_stale

    live = tmp_path / f".prepared.building-{os.getppid()}-abc"
    dead = tmp_path / ".prepared.building-legacy"
    live.mkdir()
    dead.mkdir()
    assert remove_stale(tmp_path) == [dead]
    assert live.is_dir()


def test_mirror_that_is_not_a_url_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["download", "facades", "--mirror", "not a url", "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "--mirror 'not a url'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


# ------------------------------------------------------------------------------------ probes that hold


class AnswerHandler(BaseHTTPRequestHandler):
    """Answers each path in its own bad way."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        if self.path == "/500/toy.tar.gz":
            self.send_error(500, "Internal Server Error")
        elif self.path == "/html/toy.tar.gz":
            body = b"<html><body>Please log in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/short/toy.tar.gz":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GENUINE)))
            self.end_headers()
            self.wfile.write(GENUINE[:100])
            self.close_connection = True
        elif self.path == "/redirect/toy.tar.gz":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        else:
            self.send_error(404, "Not Found")


@pytest.mark.parametrize(
    "where, message",
    [
        ("500", "failed after 2 attempts: HTTP 500"),
        ("html", "corrupt or truncated archive"),
        ("short", "failed after 2 attempts"),
        ("redirect", "HTTP 302"),
        ("missing", "HTTP 404"),
    ],
)
def test_bad_http_answers_fail_cleanly_and_leave_nothing(tmp_path: Path, where: str, message: str) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), AnswerHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{where}"
        spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{url}/toy.tar.gz"))
        with pytest.raises(DataError, match=message):
            download_dataset(spec, tmp_path / "data", mirror=url, policy=FAST, **QUIET)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "members, links, why",
    [
        ({"toy/../../x": b"x"}, None, "'..' component"),
        ({"/abs/x": b"x"}, None, "absolute path"),
        ({"toy/1.jpg": b"x"}, {"toy/l": ("../../etc", True)}, "leaves the target"),
        ({"toy/1.jpg": b"x"}, {"toy/h": ("../outside", False)}, "leaves the target"),
    ],
)
def test_unsafe_members_are_refused(tmp_path: Path, members, links, why) -> None:
    path = tmp_path / "a.tar.gz"
    path.write_bytes(tar_gz(members, links))
    with pytest.raises(DataError, match=why):
        scan_archive(path)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_truncated_or_corrupt_archives_are_refused(tmp_path: Path, damage: str) -> None:
    data = bytearray(GENUINE)
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path = tmp_path / "a.tar.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt or truncated"):
        scan_archive(path)


def bomb_png(side: int = 40_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels (more than twice Pillow's bomb limit)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_when_preparing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png())
    with pytest.raises(DataError, match="bomb.png"):
        read_checked(path)
