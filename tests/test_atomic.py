"""Atomic writes: what a checksum of a written file depends on."""

from __future__ import annotations

from pathlib import Path

import torch

from ganrepro.atomic import torch_save
from ganrepro.hashing import sha256_file


def test_torch_save_bytes_depend_on_the_contents_only(tmp_path: Path) -> None:
    """Equal checkpoints written through different temporary files have one sha256 (dvc, Snakemake, reruns)."""
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 4}
    torch_save(state, tmp_path / "a" / "final.pt")
    torch_save(state, tmp_path / "b" / "latest.pt")
    assert sha256_file(tmp_path / "a" / "final.pt") == sha256_file(tmp_path / "b" / "latest.pt")
    torch_save({**state, "step": 5}, tmp_path / "c.pt")
    assert sha256_file(tmp_path / "c.pt") != sha256_file(tmp_path / "a" / "final.pt")
    assert torch.equal(torch.load(tmp_path / "a" / "final.pt")["w"], state["w"])
