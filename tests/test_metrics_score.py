"""``ganrepro score`` on folders the tests make: pairing, refusal of mismatched sets, JSON, missing weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import small_extractor, write_images

from ganrepro.cli import main
from ganrepro.metrics import inception
from ganrepro.metrics.ssim import psnr, ssim_rgb

NAMES = ["1", "2", "10"]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, list, list]:
    real = write_images(tmp_path / "real", NAMES, seed=0)
    fake = write_images(tmp_path / "fake", NAMES, seed=1)
    return tmp_path / "real", tmp_path / "fake", real, fake


@pytest.fixture
def fake_inception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inception, "load_fid_extractor", lambda *a, **k: small_extractor())


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANREPRO_FID_WEIGHTS", raising=False)


def test_ssim_psnr_json_and_table(folders, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    real_dir, fake_dir, real, fake = folders
    out = tmp_path / "scores.json"
    assert (
        main(["score", "--real", str(real_dir), "--fake", str(fake_dir), "--metrics", "psnr,ssim", "--json", str(out)])
        == 0
    )
    table = capsys.readouterr().out
    assert "ssim" in table and "psnr" in table
    report = json.loads(out.read_text())
    assert list(report["metrics"]) == ["ssim", "psnr"] and report["n_real"] == 3
    # natural order pairing: 1, 2, 10 (not 1, 10, 2) pairs file i with file i
    assert report["metrics"]["ssim"]["value"] == pytest.approx(np.mean([ssim_rgb(a, b) for a, b in zip(real, fake)]))
    assert report["metrics"]["psnr"]["value"] == pytest.approx(np.mean([psnr(a, b) for a, b in zip(real, fake)]))


def test_mismatched_sets_refused(folders, capsys: pytest.CaptureFixture) -> None:
    real_dir, fake_dir, _, _ = folders
    (fake_dir / "10.png").rename(fake_dir / "11.png")
    assert main(["score", "--real", str(real_dir), "--fake", str(fake_dir), "--metrics", "ssim"]) == 2
    err = capsys.readouterr().err
    assert "do not match by name" in err and "10" in err and "11" in err


def test_suffix_stripping_for_other_implementations(folders, capsys: pytest.CaptureFixture) -> None:
    real_dir, fake_dir, _, _ = folders
    for name in NAMES:
        (fake_dir / f"{name}.png").rename(fake_dir / f"{name}_fake_B.png")
    args = ["score", "--real", str(real_dir), "--fake", str(fake_dir), "--metrics", "psnr"]
    assert main(args) == 2
    assert main([*args, "--fake-suffix", "_fake_B"]) == 0


def test_fid_kid_with_injected_extractor_and_cache(folders, tmp_path: Path, fake_inception) -> None:
    real_dir, fake_dir, _, _ = folders
    out, cache = tmp_path / "s.json", tmp_path / "cache"
    args = [
        "score",
        "--real",
        str(real_dir),
        "--fake",
        str(fake_dir),
        "--metrics",
        "fid,kid",
        "--json",
        str(out),
        "--cache-dir",
        str(cache),
        "--kid-subsets",
        "5",
    ]
    assert main(args) == 0
    first = json.loads(out.read_text())["metrics"]
    assert first["fid"]["value"] > 0 and first["kid"]["subset_size"] == 3 and first["fid"]["n_fake"] == 3
    assert first["fid"]["real_features"]["cache_hit"] is False
    assert main(args) == 0
    second = json.loads(out.read_text())["metrics"]
    assert second["fid"]["real_features"]["cache_hit"] is True and second["fid"]["value"] == first["fid"]["value"]
    assert main(["score", "--real", str(real_dir), "--fake", str(fake_dir), "--unpaired", "--metrics", "ssim"]) == 2


def test_missing_weights_fail_or_are_recorded(
    folders, tmp_path: Path, no_weights, capsys: pytest.CaptureFixture
) -> None:
    real_dir, fake_dir, _, _ = folders
    args = ["score", "--real", str(real_dir), "--fake", str(fake_dir)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert inception.FID_WEIGHTS_URL in err and inception.FID_WEIGHTS_FILENAME in err
    out = tmp_path / "s.json"
    assert main([*args, "--skip-unavailable", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["fid"]["available"] is False and inception.FID_WEIGHTS_URL in metrics["fid"]["reason"]
    assert metrics["kid"]["available"] is False and metrics["ssim"]["value"] < 1


def test_fcn_needs_labels_and_segmenter(folders, capsys: pytest.CaptureFixture) -> None:
    real_dir, fake_dir, _, _ = folders
    assert main(["score", "--real", str(real_dir), "--fake", str(fake_dir), "--metrics", "fcn"]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main(["score", "--real", str(real_dir), "--fake", str(fake_dir), "--metrics", "fcn,bogus"]) == 2
