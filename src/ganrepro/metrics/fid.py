"""FID and KID from one set of Inception features, with the real set's features cached.

FID is the Fréchet distance of two Gaussians fitted to the features, computed as pytorch-fid does (float64,
``scipy.linalg.sqrtm`` of the covariance product, an eps-regularised retry if it is singular, imaginary parts
dropped only when negligible), or, with fewer images than feature dimensions, by an exact low-rank identity
that gives the same number without the 2048×2048 matrix square root (see
:func:`frechet_distance_of_features`).  With the 100-500 test images of these datasets FID is strongly biased upward
(its expectation depends on n), so we also report KID: the unbiased MMD² with the cubic polynomial kernel
k(x, y) = (x·y / d + 1)³, averaged over random subsets (Bińkowski et al. 2018; the torch-fidelity/clean-fid
estimator), whose expectation does not depend on the sample size.

Real-set features are cached in ``cache_dir`` under a key made of the caller's data identity (prepared data
hash or a hash of the real files), the split/side, the image size and the extractor id, because extracting
them is most of the cost of scoring a run and they are shared by every run on the dataset.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganrepro.atomic import atomic_path, write_json
from ganrepro.errors import DataError
from ganrepro.metrics import progress
from ganrepro.metrics.imagesets import NamedImage, batches, to_float_batch
from ganrepro.metrics.inception import FeatureExtractor

KID_KERNEL = "polynomial (x.y/d + 1)^3"


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """d² = |mu1 - mu2|² + Tr(S1 + S2 - 2 (S1 S2)^½), pytorch-fid's algorithm without its deprecated scipy call."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in the covariance square root")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_distance_of_features(real: np.ndarray, fake: np.ndarray) -> tuple[float, str]:
    """FID of two feature sets, and the route taken.

    With fewer images than feature dimensions (100-500 test images vs 2048 Inception features) both
    covariances have rank < n, and Tr((S1 S2)^½) equals the nuclear norm of Xc Yc^T / sqrt((n-1)(m-1)) for the
    centred feature matrices (the non-zero eigenvalues of S1 S2 are those of (Xc Yc^T)(Xc Yc^T)^T).  That n×m
    SVD is exact and takes milliseconds, where ``sqrtm`` of the 2048×2048 product takes ~25 s on one core and
    adds square roots of rounding noise from the null space (FID higher by ~1e-4 on 100 facades images).
    With at least as many images as dimensions the pytorch-fid route (:func:`frechet_distance`) is used.
    """
    x, y = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    n, m, d = len(x), len(y), x.shape[1]
    if min(n, m) < 2:
        raise DataError("FID needs at least 2 images per set")
    if min(n, m) >= d:
        return frechet_distance(*gaussian_statistics(x), *gaussian_statistics(y)), "sqrtm (pytorch-fid)"
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    diff = x.mean(axis=0) - y.mean(axis=0)
    cross = np.linalg.svd(xc @ yc.T, compute_uv=False).sum() / np.sqrt((n - 1) * (m - 1))
    value = diff @ diff + (xc * xc).sum() / (n - 1) + (yc * yc).sum() / (m - 1) - 2 * cross
    return float(value), "low-rank exact: nuclear norm of centred cross-features (n < dims)"


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (rows = samples), as pytorch-fid's calculate_activation_statistics."""
    features = np.asarray(features, dtype=np.float64)
    if features.shape[0] < 2:
        raise DataError("FID needs at least 2 images per set")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def kid(
    real: np.ndarray,
    fake: np.ndarray,
    n_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Unbiased polynomial-kernel MMD² over ``n_subsets`` random subsets of size min(subset_size, n_real, n_fake)."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    d = real.shape[1]
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise DataError("KID needs at least 2 images per set")
    rng = np.random.default_rng(seed)
    values = np.empty(n_subsets)
    for i in range(n_subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[i] = within - 2 * kxy.sum() / (m * m)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "n_subsets": n_subsets,
        "subset_size": m,
        "seed": seed,
        "kernel": KID_KERNEL,
        "estimator": "unbiased MMD^2, mean and std over subsets (raw scale, not x100 or x1000)",
    }


def extract_features(
    images: Sequence[NamedImage], extractor: FeatureExtractor, batch_size: int = 50, desc: str = "features"
) -> np.ndarray:
    """(N, D) float64 features of uint8 images, batched on the extractor's device."""
    chunks = []
    bar = progress(batches(images, batch_size), desc=desc, total=-(-len(images) // batch_size))
    for _, array in bar:
        chunks.append(np.asarray(extractor(to_float_batch(array, str(extractor.device)))))
    return np.concatenate(chunks, axis=0)


def cache_key(identity: dict[str, Any], extractor: FeatureExtractor) -> str:
    """A stable file name for the real features of ``identity`` under ``extractor``."""
    text = json.dumps({**identity, "extractor": extractor.id}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def files_identity(images: Sequence[NamedImage]) -> str:
    """SHA-256 over names and decoded pixels: the identity of a real set that has no prepared data hash."""
    digest = hashlib.sha256()
    for item in images:
        array = item.rgb()
        digest.update(f"{item.name}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def real_features(
    images: Sequence[NamedImage],
    extractor: FeatureExtractor,
    cache_dir: Path | None,
    identity: dict[str, Any] | None,
    batch_size: int = 50,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Features of the real set, from ``cache_dir`` when the same identity and extractor were seen before."""
    if cache_dir is None:
        return extract_features(images, extractor, batch_size, "real features"), {"cache": None}
    identity = dict(identity or {"files_sha256": files_identity(images)})
    identity["n_images"] = len(images)
    path = Path(cache_dir) / f"{cache_key(identity, extractor)}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return stored["features"], {"cache": str(path), "cache_hit": True, "identity": identity}
    features = extract_features(images, extractor, batch_size, "real features")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, features=features)
    write_json(path.with_suffix(".json"), {**identity, "extractor": extractor.id, "protocol": extractor.protocol})
    return features, {"cache": str(path), "cache_hit": False, "identity": identity}


def fid_and_kid(
    real: Sequence[NamedImage],
    fake: Sequence[NamedImage],
    extractor: FeatureExtractor,
    want: Sequence[str] = ("fid", "kid"),
    cache_dir: Path | None = None,
    identity: dict[str, Any] | None = None,
    batch_size: int = 50,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    per_image: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """FID and/or KID of ``fake`` against ``real`` from one feature pass, each with its protocol and timing.

    ``per_image``, when given, receives both feature sets (``fid_real_features``, ``fid_fake_features``).
    """
    start = time.perf_counter()
    real_feats, cache_info = real_features(real, extractor, cache_dir, identity, batch_size)
    fake_feats = extract_features(fake, extractor, batch_size, "fake features")
    extract_s = time.perf_counter() - start
    if per_image is not None:
        per_image.update(fid_real_features=real_feats, fid_fake_features=fake_feats)
    common = {
        "n_real": len(real_feats),
        "n_fake": len(fake_feats),
        "extractor": extractor.id,
        **extractor.protocol,
        "real_features": cache_info,
        "feature_seconds": round(extract_s, 3),
    }
    out: dict[str, dict[str, Any]] = {}
    if "fid" in want:
        t0 = time.perf_counter()
        value, method = frechet_distance_of_features(real_feats, fake_feats)
        out["fid"] = {
            "value": value,
            "trace_sqrt_method": method,
            "covariance": "unbiased (n-1)",
            **common,
            "seconds": round(extract_s + time.perf_counter() - t0, 3),
        }
    if "kid" in want:
        t0 = time.perf_counter()
        result = kid(real_feats, fake_feats, kid_subsets, kid_subset_size, seed)
        out["kid"] = {
            "value": result["mean"],
            **result,
            **common,
            "seconds": round(extract_s + time.perf_counter() - t0, 3),
        }
    return out
