"""Score any two folders of images (``ganrepro score``), and the metric runner that ``evaluate`` shares.

Files are paired by name (stem, optionally minus a suffix such as ``_fake_B`` for other implementations'
outputs); sets that differ are refused with the missing names, because scoring a silent subset makes
numbers incomparable.  FID/KID alone may be asked for on unpaired sets (``unpaired=True``).
Each metric's result holds its value(s), its protocol and its time; a metric that cannot run because weights
are missing is, with ``skip_unavailable``, recorded as ``{"available": false, "reason": ...}``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class MetricOptions:
    """How to compute the metrics (the command line's settings); everything not given falls back to the
    documented defaults.  What is scored in one call is a :class:`ScoreInputs`."""

    device: str = "cpu"
    batch_size: int = 16
    segmenter: str | Path | None = None  # segmenter checkpoint (FCN-score)
    fcn_protocol: str | None = None  # FCN-score resolution protocol the segmenter must be trained for; None = its own
    extractor: FeatureExtractor | None = None  # injected feature extractor; None = pytorch-fid Inception
    fid_weights: str | None = None
    fetch_weights: bool = False
    cache_dir: Path | None = None  # real-feature cache
    skip_unavailable: bool = False
    kid_subsets: int = 100
    kid_subset_size: int = 1000


@dataclass(frozen=True)
class ScoreInputs:
    """What one call scores against, besides the two image sets: each field serves the metrics named beside it."""

    labels: dict[str, Path] | None = None  # name -> label map (fcn, labelmap)
    segmenter: Any = None  # a loaded Segmenter, used instead of MetricOptions.segmenter's checkpoint (fcn)
    palette: list[list[int]] | None = None  # colour of each class (labelmap)
    classes: list[str] | None = None  # class names (labelmap)
    identity: dict[str, Any] | None = None  # what the real set is (data hash, split, side, size), for the cache
    cache_dir: Path | None = None  # real-feature cache when MetricOptions names none (fid, kid)
    seed: int = 0  # KID's subset draws


def unavailable(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def run_metrics(
    real: Sequence[NamedImage],
    fake: Sequence[NamedImage],
    metrics: Sequence[str],
    options: MetricOptions,
    inputs: ScoreInputs = ScoreInputs(),
    extractor: FeatureExtractor | None = None,
    per_image: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Compute ``metrics`` for ``fake`` against ``real`` (paired by position for fcn/ssim/psnr); ``extractor``
    is the FID network when the caller loaded it already; ``per_image`` receives per-image statistics (see
    :mod:`ganrepro.metrics.per_image`)."""
    wanted = [m for m in ("fid", "kid") if m in metrics]
    if extractor is None:  # missing weights stop us before any long work
        extractor, skipped = load_extractor(wanted, options)
    else:
        skipped = {}
    results: dict[str, dict[str, Any]] = dict(skipped)
    if "fcn" in metrics:
        from ganrepro.metrics.fcn_protocol import require_protocol
        from ganrepro.metrics.segmenter import fcn_score, load_segmenter

        seg = inputs.segmenter
        if seg is None and options.segmenter is not None:
            seg = load_segmenter(options.segmenter, options.device)
        if seg is None or inputs.labels is None:
            raise UserError("the FCN-score needs label maps and a trained segmenter (--labels DIR --segmenter CKPT)")
        require_protocol(seg.protocol, options.fcn_protocol, seg.path)
        results["fcn"] = fcn_score(seg, fake, inputs.labels, options.batch_size, per_image=per_image)
    if wanted and not skipped:
        from ganrepro.metrics.fid import fid_and_kid

        results.update(
            fid_and_kid(
                real,
                fake,
                extractor,
                wanted,
                options.cache_dir or inputs.cache_dir,
                inputs.identity,
                batch_size=max(options.batch_size, 1),
                kid_subsets=options.kid_subsets,
                kid_subset_size=options.kid_subset_size,
                seed=inputs.seed,
                per_image=per_image,
            )
        )
    if "labelmap" in metrics:
        from ganrepro.metrics.labelmaps import labelmap_score

        if inputs.labels is None or inputs.palette is None or inputs.classes is None:
            raise UserError("labelmap scores need the true label maps and the dataset's palette and classes")
        results["labelmap"] = labelmap_score(fake, inputs.labels, inputs.palette, inputs.classes, per_image=per_image)
    if "colorhist" in metrics:
        from ganrepro.metrics.colorhist import color_histogram_intersection

        results["colorhist"] = color_histogram_intersection(real, fake, per_image)
    if "ssim" in metrics or "psnr" in metrics:
        from ganrepro.metrics.ssim import ssim_psnr

        results.update(ssim_psnr(real, fake, [m for m in ("ssim", "psnr") if m in metrics], per_image))
    return {m: results[m] for m in metrics}


def load_extractor(
    metrics: Sequence[str], options: MetricOptions
) -> tuple[FeatureExtractor | None, dict[str, dict[str, Any]]]:
    """(the FID network, {}) or (None, 'unavailable' records for fid/kid): called once, before any long work.

    The network is ``options.extractor`` when one is injected, else pytorch-fid's Inception; None when neither
    fid nor kid is asked for.  Missing weights stop with the message naming the file, URL and folder, unless
    ``skip_unavailable``.
    """
    from ganrepro.metrics.inception import load_fid_extractor

    wanted = [m for m in ("fid", "kid") if m in metrics]
    if not wanted or options.extractor is not None:
        return options.extractor, {}
    try:
        return load_fid_extractor(options.fid_weights, options.device, fetch=options.fetch_weights), {}
    except WeightsUnavailable as err:
        if not options.skip_unavailable:
            raise
        return None, {m: unavailable(str(err)) for m in wanted}


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
    inputs = ScoreInputs()
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
            inputs = ScoreInputs(labels=dict(stem_map(Path(labels_dir), "")))
    results = run_metrics(real, fake, metrics, options, inputs)
    return {
        "real": str(real_dir),
        "fake": str(fake_dir),
        "labels": str(labels_dir) if labels_dir else None,
        "paired": not unpaired,
        "n_real": len(real),
        "n_fake": len(fake),
        "ganrepro": __version__,
        "metrics": results,
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
            text = (
                f"per-pixel acc {_fmt(r['pixel_acc'])}  per-class acc {_fmt(r['class_acc'])}  "
                f"class IoU {_fmt(r['class_iou'])}"
                f"  ({r['n_images']} images; absent classes as 0: {', '.join(r['absent_classes']) or 'none absent'})"
            )
        elif name == "fid":
            text = f"{_fmt(r['value'], 3)}  ({r['n_real']} real / {r['n_fake']} generated)"
        elif name == "kid":
            text = f"{_fmt(r['mean'], 5)} ± {_fmt(r['std'], 5)}  ({r['n_subsets']} subsets of {r['subset_size']})"
        elif name == "colorhist":
            text = (
                f"L {_fmt(r['L'])}  a {_fmt(r['a'])}  b {_fmt(r['b'])}  ({r['n_real']} real / {r['n_fake']} generated)"
            )
        elif name == "ssim":
            text = f"{_fmt(r['value'])} RGB  {_fmt(r['value_y'])} Y  ({r['n_images']} pairs)"
        else:
            text = (
                ("n/a" if r["value"] is None else f"{r['value']:.3f} dB")
                + f"  ({r['n_images']} pairs)"
                + (f"; {r['note']}" if r.get("note") else "")
            )
        seconds = f"  [{r['seconds']:.1f} s]" if "seconds" in r else ""
        lines.append(f"{name:<7} {text}{seconds}")
    return "\n".join(lines)
