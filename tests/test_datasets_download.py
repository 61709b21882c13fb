"""`ganrepro download`: verified, resumable, retried downloads from a local HTTP server and file:// mirrors."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from datasets_helpers import LocalServer, entry, facades_archive, spec_for

from ganrepro.errors import DataError
from ganrepro.preparation.download import download_dataset, resolve_mirror
from ganrepro.preparation.transfer import RetryPolicy

FAST = RetryPolicy(retries=3, backoff=0.01, timeout=5)
ARCHIVE = facades_archive()
SHA = hashlib.sha256(ARCHIVE).hexdigest()


def leftovers(data: Path, name: str = "toy") -> list[str]:
    """Everything under the data set's folder except the lock file: must be empty after a failure."""
    folder = data / name
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def server():
    with LocalServer() as srv:
        srv.state.files["/toy.tar.gz"] = ARCHIVE
        yield srv


def test_good_download_locks_hash_then_verifies_against_it(tmp_path, server):
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz"))
    data = tmp_path / "data"
    logs: list[str] = []
    [result] = download_dataset(spec, data, policy=FAST, log=logs.append)
    assert result.sha256 == SHA and result.check == "recorded"
    assert (data / "toy" / "raw" / "toy.tar.gz").read_bytes() == ARCHIVE
    assert sorted(p.name for p in (data / "toy" / "extracted" / "toy" / "toy" / "train").iterdir()) == [
        "1.jpg",
        "2.jpg",
        "3.jpg",
        "4.jpg",
    ]
    lock = json.loads((data / "datasets.lock.json").read_text())
    assert lock["toy/toy.tar.gz"]["sha256"] == SHA
    assert any("recorded" in line and "datasets.lock.json" in line for line in logs)
    assert not list((data / "toy" / "raw").glob(".*part"))

    # a second, forced download is checked against the locked hash
    [again] = download_dataset(spec, data, policy=FAST, force=True, log=logs.append)
    assert again.check == "lock" and again.sha256 == SHA
    # without --force nothing is fetched again
    before = len(server.state.requests)
    [cached] = download_dataset(spec, data, policy=FAST, log=logs.append)
    assert cached.check == "cached" and len(server.state.requests) == before


def test_checksum_mismatch_extracts_nothing_and_leaves_no_file(tmp_path, server):
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz", sha256="0" * 64))
    with pytest.raises(DataError, match="checksum mismatch.*expected sha256 0{64}.*nothing was extracted"):
        download_dataset(spec, tmp_path / "data", policy=FAST, log=lambda m: None)
    assert leftovers(tmp_path / "data") == []


def test_changed_upstream_file_is_caught_by_the_lock(tmp_path, server):
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz"))
    data = tmp_path / "data"
    download_dataset(spec, data, policy=FAST, log=lambda m: None)
    server.state.files["/toy.tar.gz"] = facades_archive(train=3)  # the server now serves other bytes
    with pytest.raises(DataError, match="checksum mismatch.*lock file"):
        download_dataset(spec, data, policy=FAST, force=True, log=lambda m: None)
    assert (data / "toy" / "raw" / "toy.tar.gz").read_bytes() == ARCHIVE  # the verified copy is untouched
    assert not list((data / "toy" / "raw").glob(".*part"))


def test_registry_hash_is_verified(tmp_path, server):
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz", sha256=SHA))
    [result] = download_dataset(spec, tmp_path / "data", policy=FAST, log=lambda m: None)
    assert result.check == "registry"
    assert not (tmp_path / "data" / "datasets.lock.json").exists()


def test_connection_cut_midway_resumes_with_range(tmp_path, server):
    server.state.cut_once.add("/toy.tar.gz")
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz", sha256=SHA))
    logs: list[str] = []
    [result] = download_dataset(spec, tmp_path / "data", policy=FAST, log=logs.append)
    assert result.sha256 == SHA
    ranges = [r for path, r in server.state.requests if path == "/toy.tar.gz"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(ARCHIVE) // 2}-"
    assert any("retry 1/3" in line and "resuming at" in line for line in logs)


def test_connection_cut_without_range_support_starts_over(tmp_path, server):
    server.state.cut_once.add("/toy.tar.gz")
    server.state.honour_range = False
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz", sha256=SHA))
    [result] = download_dataset(spec, tmp_path / "data", policy=FAST, log=lambda m: None)
    assert result.sha256 == SHA and len(server.state.requests) == 2


def test_transient_errors_are_retried_with_backoff_then_give_up(tmp_path, server):
    server.state.fail_503["/toy.tar.gz"] = 2
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz", sha256=SHA))
    logs: list[str] = []
    download_dataset(spec, tmp_path / "data", policy=FAST, log=logs.append)
    assert sum("HTTP 503" in line for line in logs) == 2

    server.state.fail_503["/toy.tar.gz"] = 10
    with pytest.raises(DataError, match="failed after 3 attempts"):
        download_dataset(
            spec, tmp_path / "data2", policy=RetryPolicy(retries=2, backoff=0.01, timeout=5), log=lambda m: None
        )
    assert leftovers(tmp_path / "data2") == []


def test_http_404_fails_at_once(tmp_path, server):
    spec = spec_for(tmp_path / "params", "toy", entry("gone.tar.gz", f"{server.url}/gone.tar.gz"))
    with pytest.raises(DataError, match="HTTP 404"):
        download_dataset(spec, tmp_path / "data", policy=FAST, log=lambda m: None)
    assert len(server.state.requests) == 1


def test_truncated_archive_without_known_hash_is_not_locked(tmp_path, server):
    server.state.files["/toy.tar.gz"] = ARCHIVE[: len(ARCHIVE) * 2 // 3]  # complete response, truncated file
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz"))
    with pytest.raises(DataError, match="corrupt or truncated"):
        download_dataset(spec, tmp_path / "data", policy=FAST, log=lambda m: None)
    assert leftovers(tmp_path / "data") == []
    assert not (tmp_path / "data" / "datasets.lock.json").exists()


def test_mirror_http_and_file_urls(tmp_path, server, monkeypatch):
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", "http://unreachable.invalid/x/toy.tar.gz"))
    [via_http] = download_dataset(spec, tmp_path / "a", mirror=server.url + "/", policy=FAST, log=lambda m: None)
    mirror_dir = tmp_path / "mirror"
    mirror_dir.mkdir()
    (mirror_dir / "toy.tar.gz").write_bytes(ARCHIVE)
    monkeypatch.setenv("GANREPRO_MIRROR", mirror_dir.as_uri())
    [via_file] = download_dataset(spec, tmp_path / "b", mirror=resolve_mirror(None), policy=FAST, log=lambda m: None)
    assert via_http.sha256 == via_file.sha256 == SHA
    assert via_file.source == mirror_dir.as_uri() + "/toy.tar.gz"
    assert resolve_mirror("http://explicit") == "http://explicit"


def test_missing_file_on_file_mirror_names_it(tmp_path):
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", "http://unreachable.invalid/toy.tar.gz"))
    with pytest.raises(DataError, match="toy.tar.gz.*cannot read local file"):
        download_dataset(spec, tmp_path / "data", mirror=(tmp_path / "empty").as_uri(), policy=FAST, log=lambda m: None)


def test_offline_without_mirror_fails_at_once_with_a_helpful_message(tmp_path):
    url = "http://efrosgans.invalid/pix2pix/datasets/toy.tar.gz"
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", url))
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        download_dataset(
            spec, tmp_path / "data", policy=RetryPolicy(retries=4, backoff=5, timeout=5), log=lambda m: None
        )
    assert time.monotonic() - start < 5  # no retries, no backoff
    message = str(err.value)
    assert url in message and "wanted toy.tar.gz" in message and "--mirror" in message
    assert leftovers(tmp_path / "data") == []


def test_manual_dataset_explains_how_to_supply_the_files(tmp_path):
    body = entry(
        "gtFine_trainvaltest.zip",
        "https://www.cityscapes-dataset.com/x",
        recipe="cityscapes",
        labels="cityscapes_19",
        manual=True,
    )
    spec = spec_for(tmp_path / "params", "cs", body)
    with pytest.raises(DataError, match="licence.*gtFine_trainvaltest.zip.*--mirror"):
        download_dataset(spec, tmp_path / "data", policy=FAST, log=lambda m: None)


def test_leftover_partial_file_is_resumed_or_restarted(tmp_path, server):
    spec = spec_for(tmp_path / "params", "toy", entry("toy.tar.gz", f"{server.url}/toy.tar.gz", sha256=SHA))
    raw = tmp_path / "data" / "toy" / "raw"
    raw.mkdir(parents=True)
    (raw / ".toy.tar.gz.part").write_bytes(ARCHIVE[:1000])  # e.g. left by Ctrl-C
    download_dataset(spec, tmp_path / "data", policy=FAST, log=lambda m: None)
    assert server.state.requests[-1] == ("/toy.tar.gz", "bytes=1000-")
    (raw / ".toy.tar.gz.part").write_bytes(ARCHIVE)  # complete but unverified: the server answers 416
    download_dataset(spec, tmp_path / "data", policy=FAST, force=True, log=lambda m: None)
    assert server.state.requests[-2:] == [("/toy.tar.gz", f"bytes={len(ARCHIVE)}-"), ("/toy.tar.gz", None)]
    assert (raw / "toy.tar.gz").read_bytes() == ARCHIVE and not (raw / ".toy.tar.gz.part").exists()
