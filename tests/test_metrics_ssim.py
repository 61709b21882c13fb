"""SSIM (RGB and Y) and PSNR agree with scikit-image on real facade photos and on made images."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganrepro.errors import DataError
from ganrepro.metrics.imagesets import NamedImage
from ganrepro.metrics.ssim import psnr, ssim_psnr, ssim_rgb, ssim_y

FACADES = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "facades.tar.gz"


def skimage_reference(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    rgb = structural_similarity(a, b, channel_axis=-1, **kw)
    y = structural_similarity(rgb2ycbcr(a)[..., 0], rgb2ycbcr(b)[..., 0], **kw)
    return rgb, y, peak_signal_noise_ratio(a, b, data_range=255)


def check_against_skimage(a: np.ndarray, b: np.ndarray) -> None:
    rgb, y, p = skimage_reference(a, b)
    assert abs(ssim_rgb(a, b) - rgb) < 1e-4
    assert abs(ssim_y(a, b) - y) < 1e-4
    assert abs(psnr(a, b) - p) < 1e-4


def facade_photos(count: int) -> list[np.ndarray]:
    """The first ``count`` JPEG members of the archive, read in streaming order (no full index scan)."""
    out = []
    with tarfile.open(FACADES, mode="r|gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".jpg"):
                out.append(np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB")))
                if len(out) == count:
                    break
    return out


@pytest.mark.skipif(not FACADES.is_file(), reason=f"{FACADES} absent")
def test_matches_skimage_on_real_facades() -> None:
    pairs = facade_photos(3)
    photos = [p[:, :256] for p in pairs]
    check_against_skimage(photos[0], photos[1])
    check_against_skimage(pairs[1], pairs[2])  # 512x256 photo|labels images
    noisy = np.clip(photos[2] + np.random.default_rng(0).normal(0, 12, photos[2].shape), 0, 255).astype(np.uint8)
    check_against_skimage(photos[2], noisy)  # a close pair: SSIM near 1


def test_matches_skimage_on_made_images() -> None:
    rng = np.random.default_rng(0)
    base = np.kron(rng.uniform(0, 255, (6, 8, 3)), np.ones((8, 8, 1)))
    a = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    b = np.clip(base * 0.9 + 20 + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    check_against_skimage(a, b)  # 48x64, not square


def test_aggregate_identical_and_mismatched() -> None:
    rng = np.random.default_rng(1)
    images = [NamedImage(str(i), rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)) for i in range(3)]
    result = ssim_psnr(images, images)
    assert result["ssim"]["value"] == pytest.approx(1.0) and result["ssim"]["value_y"] == pytest.approx(1.0)
    assert result["psnr"]["value"] is None and result["psnr"]["identical_pairs"] == 3
    assert result["ssim"]["data_range"] == 255 and "11x11" in result["ssim"]["window"]
    small = [NamedImage("0", np.zeros((10, 20, 3), np.uint8))]
    with pytest.raises(DataError, match="equal sizes"):
        ssim_psnr(images[:1], small)
