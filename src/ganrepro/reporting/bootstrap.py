"""Bootstrap arithmetic: how much a metric moves when the test images (and the seeds) are resampled.

A resample of N test images is held as *counts*: how often each image is drawn (a multinomial row summing to
N), so that every metric is recomputed from per-image statistics without copying images:

* FCN-scores from the **summed** confusion matrices of the drawn images (never a mean of per-image scores),
  with the tables' absent-as-zero convention (:func:`ganrepro.metrics.confusion.table_scores`);
* SSIM and PSNR as the weighted mean of the pairs' values;
* colour-histogram intersections from the drawn images' summed L, a, b pixel counts;
* KID as the unbiased polynomial-kernel MMD² of the drawn real and generated features (duplicates count as
  distinct draws, as in any bootstrap); it equals the reported KID when the test set is no larger than the
  KID subset size (1000), since every subset is then the whole set;
* FID exactly as :func:`ganrepro.metrics.fid.frechet_distance_of_features` would compute it on the drawn
  rows, but from N × N Gram matrices: the trace term is the nuclear norm of C^½ Xc Ycᵀ C^½ over the drawn
  images (C = diag(counts)), which has the singular values of the duplicated-row product.

The resample is one fixed draw per table (:data:`SEED`), shared by every row and seed, so differences between
rows are paired (the same images are drawn for both) and a re-render gives the same bytes.  Seeds are pooled
by :func:`pool_seeds`.  Intervals are percentile intervals (2.5 % and 97.5 % of the replicates).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ganrepro.metrics.confusion import table_scores

REPLICATES = 1000
#: FID needs one SVD per replicate and run (about 10 ms for 500 images): 200 replicates keep a paper-scale
#: report to seconds per run; the first 200 image resamples are used, so FID stays paired with the rest.
FID_REPLICATES = 200
SEED = 20170
LEVEL = 0.95


def resample_counts(n: int, replicates: int = REPLICATES, seed: int = SEED) -> np.ndarray:
    """(replicates, n) int64: how often each of n images is drawn in each resample with replacement."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.int64)


def fcn_replicates(confusion: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """pixel_acc, class_acc, class_iou of each resample, from the per-image matrices (N, K, K) summed with
    the resample's counts (float64 sums of integers are exact far beyond any test set's pixel count)."""
    n, k = confusion.shape[0], confusion.shape[1]
    summed = counts.astype(np.float64) @ confusion.reshape(n, k * k).astype(np.float64)
    return table_scores(summed.reshape(-1, k, k))


def colorhist_replicates(real: np.ndarray, fake: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """L, a, b histogram intersections of each resample: the drawn images' pixel counts summed, then
    intersected as :mod:`ganrepro.metrics.colorhist` intersects the whole set's."""
    from ganrepro.metrics.colorhist import intersections, split_channels

    c = counts.astype(np.float64)
    drawn_real = split_channels(c @ np.asarray(real, dtype=np.float64))
    drawn_fake = split_channels(c @ np.asarray(fake, dtype=np.float64))
    return {name: intersections(drawn_real[name], drawn_fake[name]) for name in drawn_real}


def mean_replicates(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The mean of per-image ``values`` over each resample; NaN for a resample that draws an infinite value
    (PSNR of an identical pair, where the mean is undefined)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    out = counts.astype(np.float64) @ np.where(finite, values, 0.0) / counts.shape[1]
    out[(counts[:, ~finite] > 0).any(axis=1)] = np.nan
    return out


def kid_replicates(real: np.ndarray, fake: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Unbiased MMD² with k(x, y) = (x·y/d + 1)³ of each resample of paired real and generated features."""
    x, y = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    d, n = x.shape[1], x.shape[0]
    c = counts.astype(np.float64)
    out = np.zeros(len(c))
    for a, b, weight in ((x, x, 1.0), (y, y, 1.0), (x, y, -2.0)):
        kernel = (a @ b.T / d + 1) ** 3
        quad = ((c @ kernel) * c).sum(axis=1)
        if weight > 0:  # within a set: pairs of distinct draws only
            out += weight * (quad - c @ np.diag(kernel)) / (n * (n - 1))
        else:
            out += weight * quad / (n * n)
    return out


def fid_replicates(real: np.ndarray, fake: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """FID of each resample of paired real and generated features (see the module notes for the identity)."""
    x, y = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    gxx, gyy, gxy = x @ x.T, y @ y.T, x @ y.T
    out = np.empty(len(counts))
    for index, row in enumerate(counts):
        drawn = np.flatnonzero(row)
        c = row[drawn].astype(np.float64)
        n = c.sum()
        sxx, syy, sxy = gxx[np.ix_(drawn, drawn)], gyy[np.ix_(drawn, drawn)], gxy[np.ix_(drawn, drawn)]
        mxx, myy, mxy = c @ sxx @ c / n**2, c @ syy @ c / n**2, c @ sxy @ c / n**2  # |μx|², |μy|², μx·μy
        # centred cross Gram: Xc Ycᵀ = Gxy - 1 (μxᵀYᵀ) - (X μy) 1ᵀ + (μx·μy) 1 1ᵀ
        centred = sxy - (c @ sxy / n)[None, :] - (sxy @ c / n)[:, None] + mxy
        root = np.sqrt(c)
        nuclear = np.linalg.svd(root[:, None] * centred * root[None, :], compute_uv=False).sum()
        trace_x = (c @ np.diag(sxx) - n * mxx) / (n - 1)
        trace_y = (c @ np.diag(syy) - n * myy) / (n - 1)
        out[index] = (mxx + myy - 2 * mxy) + trace_x + trace_y - 2 * nuclear / (n - 1)
    return out


def seed_draws(n_seeds: int, replicates: int, key: str) -> np.ndarray:
    """(replicates, n_seeds) indices of seeds drawn with replacement, fixed by ``key`` (a row's identity), so a
    row pools its seeds the same way in every section and every re-render."""
    digest = int.from_bytes(hashlib.sha256(f"{SEED}:{key}".encode()).digest()[:8], "big")
    return np.random.default_rng(digest).integers(0, n_seeds, size=(replicates, n_seeds))


def pool_seeds(per_seed: Sequence[np.ndarray], key: str) -> np.ndarray:
    """Replicates of a row's mean over seeds, resampling seeds as well as images.

    Replicate b is the mean, over S seeds drawn with replacement from the row's S seeds, of those seeds'
    image-resample-b values: the spread between independently trained seeds adds to the test-image spread.
    With one seed it is that seed's replicates.  (With S seeds the seed part of the spread is the bootstrap's
    (S-1)/S of the between-seed variance of the mean: 3 seeds say little about it, and the report says so.)
    """
    stacked = np.stack(per_seed, axis=1)  # (B, S)
    if stacked.shape[1] == 1:
        return stacked[:, 0]
    draws = seed_draws(stacked.shape[1], stacked.shape[0], key)
    return np.take_along_axis(stacked, draws, axis=1).mean(axis=1)


def interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float] | None:
    """Percentile interval of the replicates; None when any replicate is undefined (NaN)."""
    values = np.asarray(replicates, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        return None
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
