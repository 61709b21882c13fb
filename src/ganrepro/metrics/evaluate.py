"""``ganrepro evaluate RUN_DIR``: run a trained generator on a test split, save PNGs, score them.

Generation follows the papers by default: the generator stays in train mode (dropout on, batch-norm with the
statistics of the image itself) and runs one image at a time, since with batch statistics the batch
composition would change every output; ``train_mode=False`` uses eval mode (running statistics, no dropout) and
may batch.  Dropout noise is seeded from the run's seed, so an evaluation is repeatable.  Outputs are quantised
to uint8 and written as PNG (``images/``), the targets likewise (``real/``), and the metrics read those files,
exactly as they would read another implementation's outputs with ``ganrepro score``.  ``metrics.json`` holds
every metric with its protocol and the provenance of the run, checkpoint and data, and refers to
``per_image.npz`` (:mod:`.per_image`), the per-image statistics from which a report bootstraps intervals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ganrepro import __version__
from ganrepro.atomic import write_json
from ganrepro.errors import UserError
from ganrepro.hashing import sha256_file
from ganrepro.images import save_png, to_uint8
from ganrepro.metrics import DEFAULT_METRICS, progress
from ganrepro.metrics.confusion import ABSENT_CLASS_NOTE, TABLE_CONVENTION
from ganrepro.metrics.imagesets import NamedImage
from ganrepro.metrics.per_image import write as write_per_image
from ganrepro.metrics.score import PAIRED_METRICS, MetricOptions, ScoreInputs, load_extractor, run_metrics
from ganrepro.metrics.score import unavailable as unavailable_record
from ganrepro.runfiles import (
    CONFIG_FILE,
    LATEST_CHECKPOINT,
    METRICS_FILE_NAME,
    METRICS_FORMAT,
    REVERSE_DIR,
    eval_dir,
)


def generate(bundle: Any, dataset: Any, out: Path, train_mode: bool, batch_size: int, seed: int) -> dict[str, Any]:
    """Translate every item of ``dataset``; write ``images/{name}.png`` (generated), ``real/{name}.png`` (the
    target) and ``inputs/{name}.png`` (what the generator saw, for figures)."""
    import torch

    from ganrepro.fidelity import Fidelity

    quantise = Fidelity.of(bundle.config).quantise
    bundle.set_train_mode(train_mode)
    batch = 1 if train_mode else max(1, batch_size)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=0)
    torch.manual_seed(seed)
    start = time.perf_counter()
    names: list[str] = []
    for item in progress(loader, desc="generating", total=len(loader)):
        fake = bundle.translate(item["A"]).cpu()
        for name, source, generated, target in zip(item["name"], item["A"], fake, item["B"]):
            save_png(to_uint8(generated, quantise), out / "images" / f"{name}.png")
            save_png(to_uint8(target), out / "real" / f"{name}.png")
            save_png(to_uint8(source), out / "inputs" / f"{name}.png")
            names.append(name)
    if len(set(names)) != len(names):
        raise UserError(f"the {dataset.__class__.__name__} items of this split do not have unique names")
    keep = set(names)
    for folder in ("images", "real", "inputs"):  # outputs of an earlier evaluation into this folder must not linger
        for stale in (out / folder).glob("*.png"):
            if stale.stem not in keep:
                stale.unlink()
    return {
        "mode": "train" if train_mode else "eval",
        "mode_note": "train mode: dropout on, batch statistics (the papers' test protocol)"
        if train_mode
        else "eval mode: running statistics, no dropout",
        "batch_size": batch,
        "seed": seed,
        "n_images": len(names),
        "names": names,
        "output_format": f"PNG; generated images uint8 by {quantise} from [-1, 1] (as the {bundle.config.reference} "
        "reference code saves them), targets and inputs exact",
        "images_dir": str(out / "images"),
        "real_dir": str(out / "real"),
        "inputs_dir": str(out / "inputs"),
        "seconds": round(time.perf_counter() - start, 3),
    }


def _fcn_checkpoint(
    manifest: dict[str, Any] | None, prepared: Path, config: Any, segmenter: str | None
) -> tuple[Path | None, str | None]:
    """(segmenter checkpoint, None) for the FCN-score of this run's outputs, or (None, why it cannot run)."""
    from ganrepro.metrics.segmenter_train import DEFAULT_ARCH
    from ganrepro.metrics.segmenter_train import default_out as segmenter_default

    if manifest is None:
        return None, f"no manifest.json in {prepared}: label maps unknown"
    output_side = "B" if config.data.direction == "AtoB" else "A"
    if output_side != manifest["photo_side"]:
        return None, f"the generator outputs the label side (direction {config.data.direction}), not photos"
    ckpt = (
        Path(segmenter)
        if segmenter
        else segmenter_default(prepared, DEFAULT_ARCH, config.data.crop_size) / "segmenter.pt"
    )
    if not ckpt.is_file():
        return None, (
            f"segmenter checkpoint {ckpt} not found; train one with `ganrepro segmenter train "
            f"{prepared} --size {config.data.crop_size}` or pass --segmenter"
        )
    return ckpt, None


def _labelmap_unavailable(manifest: dict[str, Any] | None, config: Any) -> str | None:
    """Why labelmap scores cannot be computed for this run (None when they can)."""
    if manifest is None:
        return "no manifest.json: label maps and palette unknown"
    output_side = "B" if config.data.direction == "AtoB" else "A"
    if output_side == manifest["photo_side"]:
        return f"the generator outputs photos (direction {config.data.direction}); labelmap scores label-map outputs"
    if not manifest.get("palette"):
        return "the dataset's labels are not colour maps (no palette to decode generated images with)"
    return None


def _check_scorer(segmenter: Any, protocol: str | None, crop_size: int) -> None:
    """The segmenter must be trained for the requested protocol and for this run's generated resolution."""
    from ganrepro.metrics.fcn_protocol import require_protocol

    require_protocol(segmenter.protocol, protocol, segmenter.path)
    if segmenter.size != crop_size:
        raise UserError(
            f"segmenter {segmenter.path} was trained for {segmenter.size}px generated images, this run "
            f"generates {crop_size}px: train one with `ganrepro segmenter train --size {crop_size}`"
        )


@dataclass
class ReverseGenerator:
    """CycleGAN's second generator (G_B: the output domain back to the input domain) presented as a run bundle,
    so that :func:`generate` runs it on the split read in the other direction.  One CycleGAN run thus gives
    both of the paper's tables: labels→photo from G_A, photo→labels from G_B (CycleGAN Tables 4 and 5)."""

    bundle: Any
    config: Any

    def set_train_mode(self, flag: bool) -> None:
        self.bundle.set_train_mode(flag)

    def translate(self, images: Any) -> Any:
        import torch

        with torch.no_grad():
            return self.bundle.generators["G_B"](images.to(self.bundle.device))


def reversed_config(config: Any) -> Any:
    """The run's config read in the other direction (input and output sides swapped)."""
    data = replace(
        config.data,
        direction="BtoA" if config.data.direction == "AtoB" else "AtoB",
        input_nc=config.data.output_nc,
        output_nc=config.data.input_nc,
    )
    return replace(config, data=data)


def evaluate_run(
    run_dir: str | os.PathLike[str],
    split: str = "test",
    train_mode: bool = True,
    metrics: Sequence[str] = DEFAULT_METRICS,
    segmenter: str | None = None,
    out: str | os.PathLike[str] | None = None,
    options: MetricOptions | None = None,
    checkpoint_name: str = LATEST_CHECKPOINT,
    reverse: bool = False,
) -> dict[str, Any]:
    """Generate, score and write ``metrics.json``; returns its content.

    ``reverse`` (CycleGAN only) also scores G_B on the other direction into ``OUT/reverse/`` (its own
    ``metrics.json`` and ``per_image.npz``), referenced from the main file under ``reverse``."""
    from ganrepro.metrics.generators import load_run

    run_dir = Path(run_dir).resolve()
    options = options or MetricOptions()
    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"{run_dir} is not a run directory (no {CONFIG_FILE})")
    extractor, unavailable_fid = load_extractor(metrics, options)  # fail before generating
    bundle = load_run(run_dir, device=options.device, checkpoint_name=checkpoint_name)
    if reverse and bundle.config.model != "cyclegan":
        raise UserError(
            f"{run_dir}: --reverse scores CycleGAN's second generator; a {bundle.config.model} run has "
            "one direction (train it with data.direction reversed instead)"
        )
    out = Path(out) if out else eval_dir(run_dir, split, train_mode)
    context = {
        "run_dir": run_dir,
        "split": split,
        "train_mode": train_mode,
        "metrics": metrics,
        "segmenter": segmenter,
        "options": options,
        "extractor": extractor,
        "unavailable": unavailable_fid,
    }
    report = _evaluate_direction(bundle, bundle.config, out, **context)
    if reverse:
        back = _evaluate_direction(
            ReverseGenerator(bundle, reversed_config(bundle.config)),
            reversed_config(bundle.config),
            out / REVERSE_DIR,
            **context,
        )
        report["reverse"] = {
            "file": f"{REVERSE_DIR}/{METRICS_FILE_NAME}",
            "generator": "G_B",
            "direction": back["data"]["direction"],
            "sha256": sha256_file(out / REVERSE_DIR / METRICS_FILE_NAME),
        }
    write_json(out / METRICS_FILE_NAME, report)
    return report


def _evaluate_direction(
    bundle: Any,
    config: Any,
    out: Path,
    *,
    run_dir: Path,
    split: str,
    train_mode: bool,
    metrics: Sequence[str],
    segmenter: str | None,
    options: MetricOptions,
    extractor: Any,
    unavailable: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Generate with ``bundle`` on ``config``'s split and direction into ``out`` and score; the reverse
    direction's ``metrics.json`` is written here, the forward one by the caller (after ``reverse`` is added)."""
    from ganrepro.loading import build_dataset
    from ganrepro.metrics.segmenter import ground_truth_scores, load_segmenter
    from ganrepro.preparation.reader import label_paths, load_manifest
    from ganrepro.training.networks import forward_net

    results: dict[str, dict[str, Any]] = dict(unavailable)
    scorer = None
    prepared = Path(config.data.root)
    manifest = load_manifest(prepared) if (prepared / "manifest.json").is_file() else None
    data_hash = manifest["data_hash"] if manifest else None
    dataset = build_dataset(config, split=split, augment=False)
    paired = bool(getattr(dataset, "paired", False))
    results.update(
        {m: unavailable_record(f"the {split} split is unpaired") for m in metrics if m in PAIRED_METRICS and not paired}
    )
    if "fcn" in metrics and "fcn" not in results:
        ckpt, reason = _fcn_checkpoint(manifest, prepared, config, segmenter)
        if reason:
            if not options.skip_unavailable:
                raise UserError(f"FCN-score unavailable: {reason}")
            results["fcn"] = unavailable_record(reason)
        else:
            scorer = load_segmenter(ckpt, options.device)
            if manifest and scorer.classes != [str(c) for c in manifest["classes"]]:
                raise UserError(f"segmenter {ckpt} was trained for other classes than {prepared}")
            _check_scorer(scorer, options.fcn_protocol, config.data.crop_size)

    if "labelmap" in metrics and "labelmap" not in results:
        reason = _labelmap_unavailable(manifest, config)
        if reason and not options.skip_unavailable:
            raise UserError(f"labelmap scores unavailable: {reason}")
        if reason:
            results["labelmap"] = unavailable_record(reason)
    generation = generate(bundle, dataset, out, train_mode, options.batch_size, config.seed)
    names = generation.pop("names")
    real = [NamedImage(n, out / "real" / f"{n}.png") for n in names]
    fake = [NamedImage(n, out / "images" / f"{n}.png") for n in names]
    todo = [m for m in metrics if m not in results]
    labelmaps = "labelmap" in todo and manifest is not None
    inputs = ScoreInputs(
        labels=label_paths(prepared, split, names) if "fcn" in todo or "labelmap" in todo else None,
        segmenter=scorer,
        palette=manifest["palette"] if labelmaps else None,
        classes=[str(c) for c in manifest["classes"]] if labelmaps else None,
        identity=None
        if data_hash is None
        else {
            "data_hash": data_hash,
            "split": split,
            "side": "target",
            "direction": config.data.direction,
            "size": config.data.crop_size,
            "real": "dataset targets via build_dataset(augment=False), PNG",
        },
        cache_dir=None if data_hash is None else prepared.parent / ".cache" / "fid",
        seed=config.seed,
    )
    per_image: dict[str, Any] = {"names": names}
    results.update(run_metrics(real, fake, todo, options, inputs, extractor, per_image))
    if "fcn" in todo:
        gt = ground_truth_scores(
            prepared, scorer, split, options.device, options.batch_size, size=config.data.crop_size, per_image=per_image
        )
        results["fcn"]["ground_truth"] = {
            k: gt[k]
            for k in (
                "pixel_acc",
                "class_acc",
                "class_iou",
                "class_acc_present_only",
                "class_iou_present_only",
                "n_images",
                "protocol",
                "real_images",
                "cache_file",
            )
        }
    for name in todo:
        results[name]["generator_mode"] = generation["mode"]
    source = bundle.bundle if isinstance(bundle, ReverseGenerator) else bundle  # the run itself
    checkpoint_path, run_config = source.checkpoint_path, source.config
    report = {
        "format": METRICS_FORMAT,
        "ganrepro": __version__,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": {
            "run_dir": str(run_dir),
            "model": run_config.model,
            "config_digest": run_config.digest(),
            "config_sha256": sha256_file(run_dir / CONFIG_FILE),
            "checkpoint": str(checkpoint_path),
            "checkpoint_outside_run_dir": not checkpoint_path.resolve().is_relative_to(run_dir),
            "checkpoint_sha256": sha256_file(checkpoint_path),
            "step": source.step,
            "epoch": source.epoch,
        },
        "data": {
            "prepared_dir": str(prepared),
            "dataset": manifest["name"] if manifest else None,
            "data_hash": data_hash,
            "split": split,
            "direction": config.data.direction,
            "crop_size": config.data.crop_size,
            "n_images": len(names),
        },
        "generation": {
            **generation,
            "device": options.device,
            "generator": "G_B" if isinstance(bundle, ReverseGenerator) else forward_net(source.config),
        },
        "absent_class_convention": {"tables_use": TABLE_CONVENTION, "note": ABSENT_CLASS_NOTE},
        "metrics": {m: results[m] for m in metrics},
        "per_image": write_per_image(out, per_image),
    }
    if isinstance(bundle, ReverseGenerator):
        write_json(out / METRICS_FILE_NAME, report)
    return report
