"""``prepared/manifest.json``: what a prepared data set contains, and its single data checksum.

Later stages (training provenance, metrics, reports) must be able to say exactly which bytes they ran on
without rehashing thousands of images, so preparation hashes every file once and records
``files`` {relative path: sha256} and ``data_hash`` = sha256 of the canonical JSON of that sorted dict.
The manifest holds no timestamps or absolute paths: preparing the same archive twice gives the same file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ganrepro.errors import DataError
from ganrepro.hashing import sha256_file, sha256_json

MANIFEST_NAME = "manifest.json"
REQUIRED = (
    "name",
    "kind",
    "source_sha256",
    "splits",
    "image_size",
    "files",
    "classes",
    "ignore_index",
    "photo_side",
    "labels_to_photo",
    "notes",
    "data_hash",
)


def hash_tree(root: str | os.PathLike[str]) -> dict[str, str]:
    """``{posix relative path: sha256}`` of every file under ``root`` except the manifest, sorted."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() != MANIFEST_NAME)
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in files}


def data_hash(files: dict[str, str]) -> str:
    """The data checksum later stages record: sha256 of the canonical JSON of the sorted ``files`` dict."""
    return sha256_json(dict(sorted(files.items())))


def load_manifest(prepared_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a prepared folder; DataError when it is missing, unreadable or inconsistent."""
    path = Path(prepared_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path} not found: the data set is not prepared (run `ganrepro prepare NAME`)") from None
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read manifest ({err})") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{path}: manifest is not a JSON object")
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise DataError(f"{path}: manifest lacks {', '.join(missing)}")
    if not isinstance(manifest["files"], dict) or manifest["data_hash"] != data_hash(manifest["files"]):
        raise DataError(f"{path}: data_hash does not match the files listed (manifest edited or corrupt)")
    return manifest


def verify_files(prepared_dir: str | os.PathLike[str], manifest: dict[str, Any] | None = None) -> list[str]:
    """Relative paths whose bytes differ from the manifest (or are missing or unlisted); empty when intact."""
    prepared_dir = Path(prepared_dir)
    manifest = manifest if manifest is not None else load_manifest(prepared_dir)
    actual = hash_tree(prepared_dir)
    listed = manifest["files"]
    return sorted(p for p in set(actual) | set(listed) if actual.get(p) != listed.get(p))
