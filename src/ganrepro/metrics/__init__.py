"""Image-translation metrics computed the way the field computes them, on any folder of images.

* FCN-score (:mod:`.confusion`, :mod:`.segmenter`): a segmenter trained on the dataset's real photos labels the
  generated photos; one confusion matrix over the whole test set gives per-pixel accuracy, per-class accuracy
  and class IoU with the pix2pix ``eval_cityscapes`` formulas.
* FID and KID (:mod:`.fid`, :mod:`.inception`): pytorch-fid's Inception pool3 features; never other weights.
* SSIM and PSNR (:mod:`.ssim`): the Wang et al. Gaussian-window SSIM, as scikit-image computes it.

:mod:`.score` runs any selection of them on two folders paired by file name; :mod:`.evaluate` runs a trained
generator on a test split and scores its outputs.  Every result carries its protocol so that numbers from
different sources can be compared only when they were computed the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

#: Every metric, in the order results are listed.  ``labelmap`` scores generators that output label maps
#: (photo→labels); ``colorhist`` is pix2pix's Lab colour-histogram intersection.
METRIC_NAMES: tuple[str, ...] = ("fcn", "labelmap", "fid", "kid", "ssim", "psnr", "colorhist")
#: What ``ganrepro evaluate`` computes when no --metrics are given.
DEFAULT_METRICS: tuple[str, ...] = ("fcn", "fid", "kid", "ssim", "psnr")

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """A tqdm bar on stderr; shown on terminals, or everywhere with ``GANREPRO_PROGRESS=1``; off with ``=0``."""
    from tqdm import tqdm

    setting = os.environ.get("GANREPRO_PROGRESS")
    disable = {"1": False, "0": True}.get(setting or "")
    return iter(tqdm(iterable, desc=desc, total=total, file=sys.stderr, disable=disable, dynamic_ncols=True))
