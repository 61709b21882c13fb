"""Per-image statistics of one evaluation, kept beside ``metrics.json`` so that reports can bootstrap.

A table cell is one number over a test set of 100-500 images; how sure it is depends on how much that number
moves when the test images are resampled.  Recomputing a metric on a resample needs, per image, exactly what
the set-level metric is built from, and nothing the metric does not use:

* FCN-score and photo→labels scores: the image's confusion matrix (summed over a resample, never averaged as
  per-image scores),
  for the generated images and for the real photos (the ground-truth row);
* SSIM (RGB and Y) and PSNR: the image pair's value (the set value is their mean);
* colour histograms: each real and generated image's L, a, b pixel counts (the set's are their sums);
* FID and KID: the Inception features of each real and generated image (when FID/KID were computed).

This module alone owns the file's format: ``per_image.npz`` in the evaluation folder, referenced from
``metrics.json`` under ``per_image`` with its format and SHA-256, so a report can tell a stale or foreign file
from the one the evaluation wrote.  Arrays (every one optional except ``names``):

=====================  ==================  ===========================================================
``names``              (N,) str            the test images, in the order of every generated-side array
``fcn_confusion``      (N, K, K) int64     rows = ground-truth class, columns = predicted class
``labelmap_confusion`` (N, K, K) int64     the same, for generated label maps decoded by palette colour
``fcn_gt_names``       (M,) str            the real photos scored for the ground-truth row
``fcn_gt_confusion``   (M, K, K) int64     their confusion matrices
``colorhist_real``     (N, 615) int64      each real image's L | a | b pixel counts (metrics.colorhist bins)
``colorhist_fake``     (N, 615) int64      the same for the generated images
``ssim``, ``ssim_y``   (N,) float64        SSIM of each pair, RGB (channel mean) and BT.601 Y
``psnr``               (N,) float64        PSNR of each pair in dB (``inf`` for an identical pair)
``fid_real_features``  (N, D) float32      Inception pool3 features of the real images
``fid_fake_features``  (N, D) float32      of the generated images, the same order as ``names``
=====================  ==================  ===========================================================

Features are stored in float32 (half the size of the float64 the metric uses; FID recomputed from them
differs in the 6th significant digit) because 2 × 500 × 2048 features per run are the bulk of the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganrepro.atomic import atomic_path
from ganrepro.errors import DataError
from ganrepro.hashing import sha256_file

FORMAT = "ganrepro-per-image/1"
FILE_NAME = "per_image.npz"
#: array name -> (number of dimensions, numpy kind) that a reader may rely on.
ARRAYS: dict[str, tuple[int, str]] = {
    "names": (1, "U"),
    "fcn_confusion": (3, "i"),
    "labelmap_confusion": (3, "i"),
    "fcn_gt_names": (1, "U"),
    "fcn_gt_confusion": (3, "i"),
    "ssim": (1, "f"),
    "ssim_y": (1, "f"),
    "psnr": (1, "f"),
    "colorhist_real": (2, "i"),
    "colorhist_fake": (2, "i"),
    "fid_real_features": (2, "f"),
    "fid_fake_features": (2, "f"),
}
FEATURE_KEYS = ("fid_real_features", "fid_fake_features")


def write(folder: Path, arrays: dict[str, Any]) -> dict[str, Any]:
    """Write ``folder/per_image.npz`` atomically; returns the record that ``metrics.json`` keeps under ``per_image``."""
    unknown = sorted(set(arrays) - set(ARRAYS))
    if unknown or "names" not in arrays:
        raise ValueError(f"per-image arrays must include 'names' and be among {', '.join(ARRAYS)}; got {unknown}")
    stored = {}
    for key, value in arrays.items():
        array = np.asarray(value)
        if key in FEATURE_KEYS:
            array = array.astype(np.float32)
        stored[key] = array
    _check(stored, folder / FILE_NAME)
    path = folder / FILE_NAME
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **stored)
    return {
        "file": FILE_NAME,
        "format": FORMAT,
        "sha256": sha256_file(path),
        "arrays": sorted(stored),
        "n_images": int(len(stored["names"])),
    }


def read(folder: Path, record: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of the file that ``record`` (from ``metrics.json``) names in ``folder``, checked against it."""
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("file"), str):
        raise DataError(f"{folder}/metrics.json: per_image is not a {FORMAT} record; re-evaluate the run")
    path = folder / record["file"]
    if not path.is_file():
        raise DataError(f"{path} is missing but {folder}/metrics.json refers to it; re-evaluate the run")
    if sha256_file(path) != record.get("sha256"):
        raise DataError(f"{path} is not the file this evaluation wrote (SHA-256 differs); re-evaluate the run")
    with np.load(path, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    _check(arrays, path)
    return arrays


def _check(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Shapes agree with each other: one entry per image, square confusion matrices, paired features."""
    for key, array in arrays.items():
        ndim, kind = ARRAYS[key]
        if array.ndim != ndim or array.dtype.kind not in kind + ("u" if kind == "i" else ""):
            raise DataError(f"{path}: {key} has shape {array.shape} and dtype {array.dtype}, expected {ndim}-D {kind}")
    n = len(arrays["names"])
    for key in (
        "fcn_confusion",
        "labelmap_confusion",
        "colorhist_real",
        "colorhist_fake",
        "ssim",
        "ssim_y",
        "psnr",
        *FEATURE_KEYS,
    ):
        if key in arrays and len(arrays[key]) != n:
            raise DataError(f"{path}: {key} has {len(arrays[key])} entries for {n} images")
    for key, names in (
        ("fcn_confusion", "names"),
        ("labelmap_confusion", "names"),
        ("fcn_gt_confusion", "fcn_gt_names"),
    ):
        if key in arrays:
            shape = arrays[key].shape
            if shape[1] != shape[2] or (names in arrays and len(arrays[names]) != shape[0]):
                raise DataError(f"{path}: {key} has shape {shape}, not one square matrix per name in {names}")
    if all(k in arrays for k in FEATURE_KEYS) and arrays[FEATURE_KEYS[0]].shape != arrays[FEATURE_KEYS[1]].shape:
        raise DataError(f"{path}: real and generated features differ in shape")
