"""The two ways the reference codes resize a training image to ``load_size``.

The PyTorch port resizes the decoded uint8 image with PIL's bicubic filter.  The Lua code behind the published
tables (phillipi/pix2pix and junyanz/CycleGAN, data/donkey_folder.lua) calls torch's ``image.scale``, whose
default mode is bilinear: on float images in [0, 1], one axis at a time (each row across the width first, then
each column down the height), with the first and last samples of source and destination aligned when enlarging
(position i of n maps to i·(src − 1)/(n − 1)) and an area average when shrinking.  :func:`lua_scale` follows
that description in float32, so the result is not quantised back to uint8.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def pil_bicubic(image: Image.Image, size: int) -> Image.Image:
    """The port's resize (a no-op when the image already has that size)."""
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.Resampling.BICUBIC)


def lua_scale(array: np.ndarray, size: int) -> np.ndarray:
    """``image.scale(img, size, size, 'bilinear')`` of an (H, W[, C]) float32 array: width first, then height."""
    out = _scale_axis(np.asarray(array, dtype=np.float32), size, axis=1)
    return _scale_axis(out, size, axis=0)


def _scale_axis(src: np.ndarray, dst_len: int, axis: int) -> np.ndarray:
    src = np.moveaxis(src, axis, 0)
    src_len = src.shape[0]
    if dst_len == src_len:
        out = src.copy()
    elif dst_len > src_len:
        out = _enlarge(src, dst_len)
    else:
        out = _shrink(src, dst_len)
    return np.moveaxis(out, 0, axis)


def _enlarge(src: np.ndarray, dst_len: int) -> np.ndarray:
    """Linear interpolation with aligned end points; the last sample is copied."""
    out = np.empty((dst_len, *src.shape[1:]), dtype=np.float32)
    if src.shape[0] == 1:
        out[:] = src[0]
        return out
    scale = np.float32(src.shape[0] - 1) / np.float32(dst_len - 1)
    position = np.arange(dst_len - 1, dtype=np.float32) * scale
    index = position.astype(np.int64)  # truncation, as the C cast does
    frac = (position - index.astype(np.float32)).reshape(-1, *([1] * (src.ndim - 1)))
    out[:-1] = (np.float32(1) - frac) * src[index] + frac * src[index + 1]
    out[-1] = src[-1]
    return out


def _shrink(src: np.ndarray, dst_len: int) -> np.ndarray:
    """Each destination sample is the average of the source samples it covers, partial ones weighted."""
    src_len = src.shape[0]
    scale = np.float32(src_len) / np.float32(dst_len)
    out = np.empty((dst_len, *src.shape[1:]), dtype=np.float32)
    start_i, start_f = 0, np.float32(0)
    for di in range(dst_len):
        end = np.float32(di + 1) * scale
        end_i = int(end)
        end_f = np.float32(end - np.float32(end_i))
        acc = (np.float32(1) - start_f) * src[start_i]
        weight = np.float32(1) - start_f
        for si in range(start_i + 1, min(end_i, src_len)):
            acc = acc + src[si]
            weight += np.float32(1)
        if end_i < src_len:
            acc = acc + end_f * src[end_i]
            weight += end_f
        out[di] = acc / weight
        start_i, start_f = end_i, end_f
    return out
