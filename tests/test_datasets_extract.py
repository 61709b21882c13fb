"""Safe extraction: absolute paths, '..' components and links leaving the target are refused up front."""

from __future__ import annotations

import hashlib

import pytest
from datasets_helpers import LocalServer, entry, spec_for, tar_gz, zip_bytes

from ganrepro.errors import DataError
from ganrepro.preparation.download import download_dataset
from ganrepro.preparation.extract import safe_extract, scan_archive
from ganrepro.preparation.transfer import RetryPolicy

GOOD = {"toy/train/1.jpg": b"x" * 10}


@pytest.mark.parametrize(
    "members, links, why",
    [
        ({**GOOD, "../evil.txt": b"pwned"}, None, "'..' component"),
        ({**GOOD, "toy/../../evil.txt": b"pwned"}, None, "'..' component"),
        ({**GOOD, "/tmp/evil.txt": b"pwned"}, None, "absolute path"),
        (GOOD, {"toy/link": ("/etc/passwd", True)}, "leaves the target"),
        (GOOD, {"toy/link": ("../../outside", True)}, "leaves the target"),
        (GOOD, {"toy/hard": ("../outside", False)}, "leaves the target"),
    ],
)
def test_unsafe_tar_members_are_refused_and_nothing_is_extracted(tmp_path, members, links, why):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(tar_gz(members, links))
    target = tmp_path / "out" / "bad"
    with pytest.raises(DataError, match=f"refusing unsafe archive member.*{why}"):
        safe_extract(archive, target)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "evil.txt").exists()


def test_links_inside_the_target_are_allowed(tmp_path):
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(tar_gz(GOOD, {"toy/alias.jpg": ("train/1.jpg", True)}))
    assert safe_extract(archive, tmp_path / "out") == 2
    assert (tmp_path / "out" / "toy" / "alias.jpg").read_bytes() == b"x" * 10


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_unsafe_zip_members_are_refused(tmp_path, name):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(zip_bytes({**GOOD, name: b"pwned"}))
    with pytest.raises(DataError, match="refusing unsafe archive member"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_zip_and_truncated_tar_are_reported(tmp_path):
    good_zip = zip_bytes({"a/1.jpg": b"y" * 5000})
    flipped = bytearray(good_zip)
    flipped[40] ^= 0xFF  # inside the stored data: CRC mismatch
    (tmp_path / "c.zip").write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="corrupt"):
        scan_archive(tmp_path / "c.zip")
    whole = tar_gz({f"a/{i}.bin": bytes(range(256)) * 200 for i in range(5)})
    (tmp_path / "t.tar.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        safe_extract(tmp_path / "t.tar.gz", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_download_of_a_malicious_archive_leaves_nothing(tmp_path):
    data = tar_gz({**GOOD, "../../escape.txt": b"pwned"})
    with LocalServer() as server:
        server.state.files["/toy.tar.gz"] = data
        spec = spec_for(
            tmp_path / "params",
            "toy",
            entry("toy.tar.gz", f"{server.url}/toy.tar.gz", sha256=hashlib.sha256(data).hexdigest()),
        )
        with pytest.raises(DataError, match="refusing unsafe archive member '../../escape.txt'"):
            download_dataset(
                spec, tmp_path / "data", policy=RetryPolicy(retries=0, backoff=0, timeout=5), log=lambda m: None
            )
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert not list(tmp_path.rglob("escape.txt"))
