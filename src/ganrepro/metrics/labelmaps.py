"""photo→labels scores: generated label images read back as classes and compared with the true class maps.

pix2pix (photo→labels table) and CycleGAN (Table 5) score generators that *output* label colour maps.  No
segmenter is involved: each generated image is decoded to class indices by nearest palette colour, with exactly
the decoding ``ganrepro prepare`` applies to the dataset's own colour maps
(:func:`ganrepro.preparation.labels.decode_colour_map`), resized to the true map's resolution by nearest neighbour
when the two differ (the class map is never interpolated), and accumulated in one confusion matrix over the set,
with the FCN-score's formulas (:mod:`.confusion`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganrepro.errors import DataError
from ganrepro.metrics.confusion import ABSENT_CLASS_NOTE, ConfusionAccumulator
from ganrepro.metrics.imagesets import NamedImage, read_label
from ganrepro.preparation.labels import decode_colour_map


def decode_generated(rgb: np.ndarray, palette: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Class indices of a generated colour map, at ``shape`` (nearest-neighbour when it must be resized)."""
    classes, _, _ = decode_colour_map(rgb, palette)
    if classes.shape != shape:
        classes = np.asarray(Image.fromarray(classes).resize((shape[1], shape[0]), Image.Resampling.NEAREST))
    return classes


def labelmap_score(
    fake: Sequence[NamedImage],
    labels: dict[str, Path],
    palette: Sequence[Sequence[int]],
    classes: Sequence[str],
    ignore_index: int = 255,
    per_image: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Scores of the set; ``per_image``, when given, receives each image's confusion matrix in image order
    (``labelmap_confusion``, see :mod:`.per_image`) so that a report can bootstrap them over test images."""
    start = time.perf_counter()
    colours = np.asarray(palette, dtype=np.int32)
    if colours.shape != (len(classes), 3):
        raise DataError(f"a palette of {len(classes)} RGB colours is needed, got shape {colours.shape}")
    acc = ConfusionAccumulator(len(classes), ignore_index)
    matrices = []
    for image in fake:
        truth = read_label(labels[image.name])
        matrices.append(acc.update(truth, decode_generated(image.rgb(), colours, truth.shape), image.name))
    if per_image is not None and matrices:
        per_image["labelmap_confusion"] = np.stack(matrices)
    result = acc.scores(list(classes))
    result.update(
        confusion_matrix=acc.matrix.tolist(),
        ignore_index=ignore_index,
        absent_class_note=ABSENT_CLASS_NOTE,
        protocol="generated colour maps decoded by nearest palette colour (as `ganrepro prepare` decodes "
        "the dataset's maps), nearest-neighbour resize to the label resolution, one confusion "
        "matrix over the set",
        seconds=round(time.perf_counter() - start, 3),
    )
    return result
