"""pix2pix's colour-distribution test: histogram intersection of generated and real colours in Lab space.

pix2pix (CVPR 2017, §4.2, Figure 7 and its table) compares the marginal distributions of the L, a and b channels
of all generated pixels with those of the real images, as histogram intersections (1 = identical
distributions).  Here every pixel of every image of a set is converted from sRGB to CIE Lab (D65 white), its L,
a and b values are counted in unit-wide bins (L in [0, 100], a and b in [-128, 128]; the paper does not state its
bins), each histogram is normalised to sum 1, and the intersection is Σ min(p, q).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ganrepro.metrics.imagesets import NamedImage

#: (name, bin edges): unit bins centred on integers.
CHANNELS: tuple[tuple[str, np.ndarray], ...] = (
    ("L", np.arange(-0.5, 101.0, 1.0)),
    ("a", np.arange(-128.5, 129.0, 1.0)),
    ("b", np.arange(-128.5, 129.0, 1.0)),
)
#: sRGB (linear) -> XYZ, the ITU-R BT.709 primaries with a D65 white, as scikit-image uses them.
_XYZ = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> CIE Lab (..., 3) with the D65 white point (float64)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _XYZ.T / _WHITE
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1)


def image_histograms(images: Sequence[NamedImage]) -> np.ndarray:
    """(N, bins) pixel counts per image: its L, then a, then b bins side by side (:data:`CHANNELS` order)."""
    rows = []
    for image in images:
        lab = rgb_to_lab(image.rgb()).reshape(-1, 3)
        rows.append(
            np.concatenate(
                [
                    np.histogram(np.clip(lab[:, index], edges[0], edges[-1]), bins=edges)[0]
                    for index, (_, edges) in enumerate(CHANNELS)
                ]
            )
        )
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), sum(len(e) - 1 for _, e in CHANNELS))


def split_channels(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The L, a and b parts of histograms laid out as :func:`image_histograms` lays them out (last axis)."""
    out, start = {}, 0
    for name, edges in CHANNELS:
        out[name] = counts[..., start : start + len(edges) - 1]
        start += len(edges) - 1
    return out


def intersections(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Σ min(p, q) over the last axis of histograms normalised to sum 1 (stacks of them at once)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return np.minimum(p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)).sum(-1)


def intersection(p: np.ndarray, q: np.ndarray) -> float:
    """Σ min(p, q) of the two histograms, each normalised to sum 1."""
    return float(intersections(p, q))


def color_histogram_intersection(
    real: Sequence[NamedImage], fake: Sequence[NamedImage], per_image: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The intersections of the pooled histograms; ``per_image``, when given, receives each image's histograms
    (``colorhist_real``, ``colorhist_fake``, see :mod:`.per_image`) so that a report can bootstrap them."""
    start = time.perf_counter()
    real_counts, fake_counts = image_histograms(real), image_histograms(fake)
    pooled_real, pooled_fake = split_channels(real_counts.sum(0)), split_channels(fake_counts.sum(0))
    values = {name: intersection(pooled_real[name], pooled_fake[name]) for name, _ in CHANNELS}
    if per_image is not None and len(real) == len(fake):
        per_image.update(colorhist_real=real_counts, colorhist_fake=fake_counts)
    return {
        **values,
        "n_real": len(real),
        "n_fake": len(fake),
        "protocol": "histogram intersection of pooled per-pixel L, a, b values (sRGB -> Lab, D65), unit bins: "
        "L [0, 100], a and b [-128, 128]",
        "seconds": round(time.perf_counter() - start, 3),
    }
