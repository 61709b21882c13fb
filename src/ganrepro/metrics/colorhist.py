"""pix2pix's colour-distribution test: histogram intersection of generated and real colours in Lab space.

pix2pix (CVPR 2017, §4.2, Figure 7 and its table) compares the marginal distributions of the L, a and b channels
of all generated pixels with those of the real images, as histogram intersections (1 = identical
distributions).  Here every pixel of every image of a set is converted from sRGB to CIE Lab (D65 white), its L,
a and b values are counted in unit-wide bins (L in [0, 100], a and b in [-128, 128]; the paper does not state its
bins), each histogram is normalised to sum 1, and the intersection is Σ min(p, q).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ganrepro.metrics.imagesets import NamedImage

#: (name, bin edges): unit bins centred on integers.
CHANNELS: tuple[tuple[str, np.ndarray], ...] = (
    ("L", np.arange(-0.5, 101.0, 1.0)),
    ("a", np.arange(-128.5, 129.0, 1.0)),
    ("b", np.arange(-128.5, 129.0, 1.0)),
)
#: sRGB (linear) -> XYZ, the ITU-R BT.709 primaries with a D65 white, as scikit-image uses them.
_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                 [0.212671, 0.715160, 0.072169],
                 [0.019334, 0.119193, 0.950227]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> CIE Lab (..., 3) with the D65 white point (float64)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _XYZ.T / _WHITE
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1)


def lab_histograms(images: Sequence[NamedImage]) -> dict[str, np.ndarray]:
    """Pixel counts per L, a, b bin over every image of the set."""
    counts = {name: np.zeros(len(edges) - 1, dtype=np.int64) for name, edges in CHANNELS}
    for image in images:
        lab = rgb_to_lab(image.rgb()).reshape(-1, 3)
        for index, (name, edges) in enumerate(CHANNELS):
            counts[name] += np.histogram(np.clip(lab[:, index], edges[0], edges[-1]), bins=edges)[0]
    return counts


def intersection(p: np.ndarray, q: np.ndarray) -> float:
    """Σ min(p, q) of the two histograms, each normalised to sum 1."""
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def color_histogram_intersection(real: Sequence[NamedImage], fake: Sequence[NamedImage]) -> dict[str, Any]:
    start = time.perf_counter()
    real_counts, fake_counts = lab_histograms(real), lab_histograms(fake)
    values = {name: intersection(real_counts[name], fake_counts[name]) for name, _ in CHANNELS}
    return {**values, "n_real": len(real), "n_fake": len(fake),
            "protocol": "histogram intersection of pooled per-pixel L, a, b values (sRGB -> Lab, D65), unit bins: "
                        "L [0, 100], a and b [-128, 128]",
            "seconds": round(time.perf_counter() - start, 3)}
