"""Score any two folders of images (``ganrepro score``), and the metric runner that ``evaluate`` shares.

Files are paired by name (stem, optionally minus a suffix such as ``_fake_B`` for other implementations'
outputs); sets that differ are refused with the missing names, because scoring a silent subset makes
numbers incomparable.  FID/KID alone may be asked for on unpaired sets (``unpaired=True``).
Each metric's result holds its value(s), its protocol and its time; a metric that cannot run because weights
are missing is, with ``skip_unavailable``, recorded as ``{"available": false, "reason": ...}``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ganrepro import __version__
from ganrepro.errors import UserError
from ganrepro.metrics import METRIC_NAMES
from ganrepro.metrics.imagesets import NamedImage, folder_images, pair_by_name, stem_map
from ganrepro.metrics.inception import FeatureExtractor
from ganrepro.metrics.weights import WeightsUnavailable

PAIRED_METRICS = ("fcn", "labelmap", "ssim", "psnr")


def parse_metrics(text: str | Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """``"fid,kid"`` -> ["fid", "kid"] in canonical order; unknown names are an error listing the known ones."""
    if text is None:
        return list(default)
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = sorted(set(names) - set(METRIC_NAMES))
    if unknown or not names:
        raise UserError(f"unknown metrics {', '.join(unknown) or '(none given)'}; choose from {','.join(METRIC_NAMES)}")
    return [m for m in METRIC_NAMES if m in names]


@dataclass
class MetricOptions:
    """How to compute the metrics; everything not given falls back to the documented defaults."""

    device: str = "cpu"
    batch_size: int = 16
    segmenter: Any = None  # Segmenter or checkpoint path (FCN-score)
    labels: dict[str, Path] | None = None  # name -> label map (FCN-score)
    fcn_protocol: str | None = None  # FCN-score resolution protocol the segmenter must be trained for; None = its own
    extractor: FeatureExtractor | None = None  # injected feature extractor; None = pytorch-fid Inception
    fid_weights: str | None = None
    fetch_weights: bool = False
    cache_dir: Path | None = None  # real-feature cache
    identity: dict[str, Any] | None = None  # what the real set is (data hash, split, side, size)
    skip_unavailable: bool = False
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    seed: int = 0
    palette: list[list[int]] | None = None  # colour of each class (labelmap)
    classes: list[str] | None = None  # class names (labelmap)
    per_image: dict[str, Any] | None = None  # receives per-image statistics (see metrics.per_image)


def unavailable(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def run_metrics(real: Sequence[NamedImage], fake: Sequence[NamedImage], metrics: Sequence[str],
                options: MetricOptions) -> dict[str, dict[str, Any]]:
    """Compute ``metrics`` for ``fake`` against ``real`` (paired by position for fcn/ssim/psnr)."""
    wanted = [m for m in ("fid", "kid") if m in metrics]
    skipped = resolve_extractor(wanted, options)  # missing weights stop us before any long work
    results: dict[str, dict[str, Any]] = dict(skipped)
    if "fcn" in metrics:
        from ganrepro.metrics.fcn_protocol import require_protocol
        from ganrepro.metrics.segmenter import Segmenter, fcn_score, load_segmenter

        if options.segmenter is None or options.labels is None:
            raise UserError("the FCN-score needs label maps and a trained segmenter (--labels DIR --segmenter CKPT)")
        seg = options.segmenter if isinstance(options.segmenter, Segmenter) else load_segmenter(options.segmenter, options.device)
        require_protocol(seg.protocol, options.fcn_protocol, seg.path)
        results["fcn"] = fcn_score(seg, fake, options.labels, options.batch_size, per_image=options.per_image)
    if wanted and not skipped:
        from ganrepro.metrics.fid import fid_and_kid

        results.update(fid_and_kid(
            real, fake, options.extractor, wanted, options.cache_dir, options.identity, batch_size=max(options.batch_size, 1),
            kid_subsets=options.kid_subsets, kid_subset_size=options.kid_subset_size, seed=options.seed,
            per_image=options.per_image))
    if "labelmap" in metrics:
        from ganrepro.metrics.labelmaps import labelmap_score

        if options.labels is None or options.palette is None or options.classes is None:
            raise UserError("labelmap scores need the true label maps and the dataset's palette and classes")
        results["labelmap"] = labelmap_score(fake, options.labels, options.palette, options.classes,
                                             per_image=options.per_image)
    if "colorhist" in metrics:
        from ganrepro.metrics.colorhist import color_histogram_intersection

        results["colorhist"] = color_histogram_intersection(real, fake, options.per_image)
    if "ssim" in metrics or "psnr" in metrics:
        from ganrepro.metrics.ssim import ssim_psnr

        results.update(ssim_psnr(real, fake, [m for m in ("ssim", "psnr") if m in metrics], options.per_image))
    return {m: results[m] for m in metrics}


def resolve_extractor(metrics: Sequence[str], options: MetricOptions) -> dict[str, dict[str, Any]]:
    """Load the FID network into ``options`` once, before any long work; {} or 'unavailable' records for fid/kid.

    Missing weights stop with the message naming the file, URL and folder, unless ``skip_unavailable``.
    """
    from ganrepro.metrics.inception import load_fid_extractor

    wanted = [m for m in ("fid", "kid") if m in metrics]
    if not wanted or options.extractor is not None:
        return {}
    try:
        options.extractor = load_fid_extractor(options.fid_weights, options.device, fetch=options.fetch_weights)
    except WeightsUnavailable as err:
        if not options.skip_unavailable:
            raise
        return {m: unavailable(str(err)) for m in wanted}
    return {}


def score_folders(
    real_dir: str | os.PathLike[str],
    fake_dir: str | os.PathLike[str],
    metrics: Sequence[str],
    options: MetricOptions,
    labels_dir: str | os.PathLike[str] | None = None,
    real_suffix: str = "",
    fake_suffix: str = "",
    unpaired: bool = False,
) -> dict[str, Any]:
    """Pair the folders by name, run ``metrics`` and return a JSON-ready report."""
    real_dir, fake_dir = Path(real_dir), Path(fake_dir)
    if unpaired:
        bad = [m for m in metrics if m in PAIRED_METRICS]
        if bad:
            raise UserError(f"{', '.join(bad)} compare images pair by pair and cannot run on unpaired sets")
        real_names, fake_names = list(stem_map(real_dir, real_suffix)), list(stem_map(fake_dir, fake_suffix))
        real, fake = folder_images(real_dir, real_names, real_suffix), folder_images(fake_dir, fake_names, fake_suffix)
    else:
        roles = {"real": (real_dir, real_suffix), "fake": (fake_dir, fake_suffix)}
        if labels_dir is not None and "fcn" in metrics:
            roles["labels"] = (Path(labels_dir), "")
        names = pair_by_name(roles)
        real, fake = folder_images(real_dir, names, real_suffix), folder_images(fake_dir, names, fake_suffix)
        if "labels" in roles:
            options.labels = {n: p for n, p in stem_map(Path(labels_dir), "").items()}
    results = run_metrics(real, fake, metrics, options)
    return {
        "real": str(real_dir), "fake": str(fake_dir), "labels": str(labels_dir) if labels_dir else None,
        "paired": not unpaired, "n_real": len(real), "n_fake": len(fake), "ganrepro": __version__, "metrics": results,
    }


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_table(metrics: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: one line per metric, its headline values and image counts."""
    lines = [f"{'metric':<7} result"]
    for name, r in metrics.items():
        if r.get("available") is False:
            text = f"unavailable: {r['reason']}"
        elif name in ("fcn", "labelmap"):
            text = (f"per-pixel acc {_fmt(r['pixel_acc'])}  per-class acc {_fmt(r['class_acc'])}  class IoU {_fmt(r['class_iou'])}"
                    f"  ({r['n_images']} images; absent classes as 0: {', '.join(r['absent_classes']) or 'none absent'})")
        elif name == "fid":
            text = f"{_fmt(r['value'], 3)}  ({r['n_real']} real / {r['n_fake']} generated)"
        elif name == "kid":
            text = f"{_fmt(r['mean'], 5)} ± {_fmt(r['std'], 5)}  ({r['n_subsets']} subsets of {r['subset_size']})"
        elif name == "colorhist":
            text = f"L {_fmt(r['L'])}  a {_fmt(r['a'])}  b {_fmt(r['b'])}  ({r['n_real']} real / {r['n_fake']} generated)"
        elif name == "ssim":
            text = f"{_fmt(r['value'])} RGB  {_fmt(r['value_y'])} Y  ({r['n_images']} pairs)"
        else:
            text = ("n/a" if r["value"] is None else f"{r['value']:.3f} dB") + f"  ({r['n_images']} pairs)" + (f"; {r['note']}" if r.get("note") else "")
        seconds = f"  [{r['seconds']:.1f} s]" if "seconds" in r else ""
        lines.append(f"{name:<7} {text}{seconds}")
    return "\n".join(lines)
