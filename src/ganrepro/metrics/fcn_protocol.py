"""The FCN-score's resolution protocol: at which resolution an image is segmented against its label map.

Generated images are small (256×256 or less) while label maps keep their native resolution (Cityscapes:
2048×1024).  Two protocols bridge the gap:

* ``pix2pix`` (the default, and what the papers' tables were scored with): pix2pix's
  ``scripts/eval_cityscapes/evaluate.py`` upsamples every generated image to the label map's full size with
  ``scipy.misc.imresize`` (PIL bilinear on the uint8 image), segments it at that size and compares the argmax
  with the untouched labels.  The script's own commented-out line shows segmenting at 256×256 was tried and
  dropped.  The labels are never resized.
* ``logits``: segment at the generated size and upsample the *logits* bilinearly to the label size.  Cheaper
  (no full-resolution forward pass), kept for comparison; it agrees with ``pix2pix`` only when the labels have
  the generated images' size (facades: 256 = 256).

A segmenter is trained for one protocol (it must see at training time what it will see when scoring), and
the protocol is stored in its checkpoint; scoring with another protocol is refused.  Under both protocols the
ground-truth row scores the real photos as :func:`as_generated` makes them: resized to the generated size the
way the evaluation writes ``real/`` (the data pipeline's deterministic resize, PIL bicubic) and held as uint8,
so that the ceiling is measured on exactly the images the generated ones stand beside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ganrepro.errors import ConfigError, DataError, UserError

PROTOCOLS: tuple[str, ...] = ("pix2pix", "logits")
DEFAULT_PROTOCOL = "pix2pix"
#: Checkpoints written before the protocol was recorded were trained and scored the ``logits`` way.
UNRECORDED_PROTOCOL = "logits"

#: What happens to an image and to the prediction under each protocol (recorded beside every score).
INPUT_RESIZE = {
    "pix2pix": "uint8 image upsampled to the label map's resolution with PIL bilinear (scipy.misc.imresize's default)",
    "logits": "bilinear (antialias) to the segmenter's size; none when sizes match",
}
PREDICTION_RESIZE = {
    "pix2pix": "none: segmented at the label map's resolution, then argmax",
    "logits": "logits upsampled bilinearly (align_corners=False) to the label map's resolution, then argmax",
}
REAL_IMAGES = "real photos resized to the generated size as the evaluation writes real/ (PIL bicubic), uint8"


def check_protocol(protocol: str, where: str = "fcn.protocol") -> str:
    """``protocol`` if it is one of :data:`PROTOCOLS`; otherwise a one-line error naming ``where``."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{where}: unknown FCN-score protocol {protocol!r}; allowed: {', '.join(PROTOCOLS)}")
    return protocol


def require_protocol(trained_for: str, requested: str | None, checkpoint: Path | str | None) -> None:
    """Refuse to score with a segmenter trained for another protocol (its inputs would be off-distribution)."""
    if requested is not None and requested != trained_for:
        raise UserError(
            f"segmenter {checkpoint} was trained for FCN protocol {trained_for!r}, not {requested!r}: "
            f"pass --fcn-protocol {trained_for} or train one with "
            f"`ganrepro segmenter train --fcn-protocol {requested}`"
        )


def label_shape(path: Path) -> tuple[int, int]:
    """(height, width) of a label map, read from its header without decoding the pixels."""
    try:
        with Image.open(path) as img:
            width, height = img.size
    except FileNotFoundError:
        raise DataError(f"label map not found: {path}") from None
    except OSError as err:
        raise DataError(f"cannot read label map {path}: {err}") from None
    return height, width


def upsample_to(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 (h, w, 3) -> uint8 (H, W, 3) with PIL bilinear, as ``scipy.misc.imresize(im, (H, W))`` did."""
    if rgb.shape[:2] == tuple(shape):
        return rgb
    height, width = shape
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))


def as_generated(rgb: np.ndarray, size: int) -> np.ndarray:
    """A real photo as ``evaluate`` writes it to ``real/``: the data pipeline's resize to the crop size, uint8."""
    from ganrepro.loading.jitter import apply_jitter

    return np.asarray(apply_jitter(Image.fromarray(rgb), None, size, size))


def scoring_input(rgb: np.ndarray, label: tuple[int, int], protocol: str) -> np.ndarray:
    """The image the segmenter is given for a label map of shape ``label``: upsampled under ``pix2pix``."""
    return upsample_to(rgb, label) if protocol == "pix2pix" else rgb
