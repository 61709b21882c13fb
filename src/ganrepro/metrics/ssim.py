"""SSIM and PSNR as the image-restoration literature and scikit-image compute them.

SSIM (Wang et al. 2004): Gaussian window 11×11 with σ = 1.5 (scikit-image's ``gaussian_weights=True``:
truncate 3.5 gives radius 5), K1 = 0.01, K2 = 0.03, population (not sample) covariances, the SSIM map
averaged over the pixels whose window lies fully inside the image (scikit-image filters with reflection and
then crops 5 pixels per border, which leaves exactly these 'valid' windows, so no padding convention matters).
RGB SSIM is the mean over the three channels of per-channel SSIM; Y SSIM uses the luma of ITU-R BT.601 in
studio swing as MATLAB's ``rgb2ycbcr`` (Y = 16 + 65.481 R + 128.553 G + 24.966 B with R, G, B in [0, 1], kept in
float, range [16, 235]) with data range 255, the super-resolution convention.  PSNR = 10 log10(255² / MSE)
over all pixels and channels of a pair.  Both are computed per image pair in float64 and averaged over pairs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ganrepro.errors import DataError
from ganrepro.metrics import progress
from ganrepro.metrics.imagesets import NamedImage

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
DATA_RANGE = 255.0
Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0  # applied to 0..255 values; + 16

SSIM_PROTOCOL = {
    "window": "Gaussian 11x11, sigma 1.5 (scikit-image gaussian_weights=True, truncate 3.5)",
    "K1": K1,
    "K2": K2,
    "covariance": "population (use_sample_covariance=False)",
    "data_range": DATA_RANGE,
    "border": "mean over valid windows (5 px border excluded, as scikit-image's crop)",
    "rgb": "mean over R, G, B of per-channel SSIM",
    "y": "ITU-R BT.601 studio-swing luma (MATLAB rgb2ycbcr: 16 + 65.481R + 128.553G + 24.966B, R,G,B in [0,1]), float",
    "aggregate": "mean over image pairs",
}
PSNR_PROTOCOL = {
    "formula": "10 log10(255^2 / MSE) over all pixels and channels",
    "data_range": DATA_RANGE,
    "aggregate": "mean over image pairs",
}


def _gaussian_kernel() -> np.ndarray:
    radius = WINDOW // 2
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / SIGMA) ** 2)
    return kernel / kernel.sum()


def _filter_valid(images: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter over (N, H, W) float64 arrays, keeping only the 'valid' windows."""
    from scipy.ndimage import correlate1d

    kernel, r = _gaussian_kernel(), WINDOW // 2
    out = correlate1d(correlate1d(images, kernel, axis=-1, mode="reflect"), kernel, axis=-2, mode="reflect")
    return out[:, r:-r, r:-r]


def ssim_maps_mean(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> np.ndarray:
    """Mean SSIM of each plane of two (..., H, W) arrays (computed in float64); returns shape (...)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    lead, (h, w) = a.shape[:-2], a.shape[-2:]
    if h < WINDOW or w < WINDOW:
        raise DataError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels, got {h}x{w}")
    a, b = a.reshape(-1, h, w), b.reshape(-1, h, w)
    mu_a, mu_b, aa, bb, ab = np.split(_filter_valid(np.concatenate([a, b, a * a, b * b, a * b])), 5)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean(axis=(-2, -1)).reshape(lead)


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float64 BT.601 studio-swing luma in [16, 235]."""
    return 16.0 + rgb.astype(np.float64) @ Y_WEIGHTS


def ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8 (H, W, 3) images, mean over channels."""
    return float(ssim_maps_mean(np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0)).mean())


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    return float(ssim_maps_mean(rgb_to_y(a), rgb_to_y(b)))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """PSNR in dB; ``inf`` for identical images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def ssim_psnr(
    real: Sequence[NamedImage],
    fake: Sequence[NamedImage],
    want: Sequence[str] = ("ssim", "psnr"),
    per_image: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Mean SSIM (RGB and Y) and PSNR over paired images; sizes must match (nothing is resized silently).

    ``per_image``, when given, receives each pair's values (``ssim``, ``ssim_y``, ``psnr``) in pair order.
    """
    start = time.perf_counter()
    pair_values: dict[str, list[float]] = {"ssim": [], "ssim_y": [], "psnr": []}
    for r, f in progress(zip(real, fake), desc="ssim/psnr", total=len(real)):
        a, b = r.rgb(), f.rgb()
        if a.shape != b.shape:
            raise DataError(
                f"{f.name}: generated image is {b.shape[1]}x{b.shape[0]}, real is {a.shape[1]}x{a.shape[0]}; "
                "SSIM/PSNR need equal sizes (resize one set first)"
            )
        if "ssim" in want:
            pair_values["ssim"].append(ssim_rgb(a, b))
            pair_values["ssim_y"].append(ssim_y(a, b))
        if "psnr" in want:
            pair_values["psnr"].append(psnr(a, b))
    seconds = round(time.perf_counter() - start, 3)
    if per_image is not None:
        per_image.update({key: np.array(values, dtype=np.float64) for key, values in pair_values.items() if values})
    out: dict[str, dict[str, Any]] = {}
    if "ssim" in want:
        out["ssim"] = {
            "value": float(np.mean(pair_values["ssim"])),
            "value_y": float(np.mean(pair_values["ssim_y"])),
            "n_images": len(real),
            **SSIM_PROTOCOL,
            "seconds": seconds,
        }
    if "psnr" in want:
        values = np.array(pair_values["psnr"])
        identical = int(np.isinf(values).sum())
        out["psnr"] = {
            "value": None if identical else float(values.mean()),
            "n_images": len(real),
            "identical_pairs": identical,
            **PSNR_PROTOCOL,
            "seconds": seconds,
        }
        if identical:
            out["psnr"]["note"] = f"{identical} pairs are identical (MSE 0, PSNR infinite); the mean is undefined"
    return out
