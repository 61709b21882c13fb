"""The FCN-score's scorer: a torchvision segmentation network trained on a dataset's real photos.

The pix2pix paper's scorer (Caffe FCN-8s trained on Cityscapes at 256×256) is no longer downloadable, so we
train one per dataset (:mod:`.segmenter_train`) with a torchvision architecture (``fcn_resnet50`` is the
paper's FCN family; ``lraspp_mobilenet_v3_large`` is the fast default).  Its output has exactly K channels, so
argmax predictions are always valid class ids (and :mod:`.confusion` still range-checks them).

Scoring protocol (recorded with every score, see :mod:`.fcn_protocol`): under ``pix2pix`` (the default) the
uint8 image is upsampled to the label map's resolution and segmented there, as pix2pix's evaluation script
does; under ``logits`` it is segmented at the segmenter's training resolution and the logits are upsampled.
The protocol is a property of the segmenter, fixed when it is trained and stored in its checkpoint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganrepro.atomic import atomic_path, write_json
from ganrepro.errors import ConfigError, DataError, UserError
from ganrepro.hashing import sha256_file
from ganrepro.metrics import progress
from ganrepro.metrics.confusion import ABSENT_CLASS_NOTE, ConfusionAccumulator
from ganrepro.metrics.fcn_protocol import (
    INPUT_RESIZE,
    PREDICTION_RESIZE,
    REAL_IMAGES,
    UNRECORDED_PROTOCOL,
    as_generated,
    check_protocol,
    label_shape,
    scoring_input,
)
from ganrepro.metrics.imagesets import NamedImage, batches, read_label, to_float_batch
from ganrepro.metrics.weights import locate_weights, verify_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BACKBONE_ENV = "GANREPRO_BACKBONE_WEIGHTS"
CHECKPOINT_FORMAT = "ganrepro-segmenter/1"

#: arch -> (torchvision builder name, backbone weights enum path)
ARCHS: dict[str, tuple[str, str]] = {
    "lraspp_mobilenet_v3_large": ("lraspp_mobilenet_v3_large", "MobileNet_V3_Large_Weights"),
    "deeplabv3_mobilenet_v3_large": ("deeplabv3_mobilenet_v3_large", "MobileNet_V3_Large_Weights"),
    "fcn_resnet50": ("fcn_resnet50", "ResNet50_Weights"),
    "fcn_resnet101": ("fcn_resnet101", "ResNet101_Weights"),
    "deeplabv3_resnet50": ("deeplabv3_resnet50", "ResNet50_Weights"),
}
DEFAULT_ARCH = "lraspp_mobilenet_v3_large"


def check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise ConfigError(f"unknown segmenter architecture {arch!r}; allowed: {', '.join(ARCHS)}")


def backbone_weights_url(arch: str) -> str:
    import torchvision.models as tvm

    return getattr(tvm, ARCHS[arch][1]).IMAGENET1K_V1.url


def _load_backbone(model: Any, state: dict[str, Any], path: Path) -> None:
    """Copy an ImageNet classifier's weights into the segmentation backbone (``features.`` prefix for MobileNet)."""
    target = model.backbone.state_dict()
    mapped, missing = {}, []
    for key, value in target.items():
        source = next((c for c in (key, f"features.{key}") if c in state and state[c].shape == value.shape), None)
        if source is None:
            missing.append(key)
        else:
            mapped[key] = state[source]
    if missing:
        raise ConfigError(
            f"backbone weights {path} do not fit the backbone ({len(missing)} tensors missing, e.g. {missing[0]})"
        )
    model.backbone.load_state_dict(mapped)


def build_segmenter(arch: str, num_classes: int, backbone_weights: str | None = "auto") -> tuple[Any, dict[str, Any]]:
    """A segmentation net with ``num_classes`` outputs, its backbone from ImageNet weights when found.

    ``backbone_weights``: ``"auto"`` looks at ``$GANREPRO_BACKBONE_WEIGHTS`` then the torch hub cache;
    a path uses that file; ``None``/``"none"`` trains from scratch.  Returns (model, record for the json).
    """
    import torch
    import torchvision.models.segmentation as seg

    check_arch(arch)
    model = getattr(seg, ARCHS[arch][0])(weights=None, weights_backbone=None, num_classes=num_classes)
    url = backbone_weights_url(arch)
    filename = url.rsplit("/", 1)[-1]
    if backbone_weights in (None, "none"):
        return model, {"imagenet_backbone": False, "reason": "from scratch on request", "official_file": filename}
    path, source = locate_weights(filename, None if backbone_weights == "auto" else backbone_weights, BACKBONE_ENV)
    if not path.is_file():
        if backbone_weights != "auto":
            raise UserError(f"backbone weights {path} not found")
        return model, {
            "imagenet_backbone": False,
            "reason": f"{filename} not found at {path} ({source}); trained from scratch",
            "official_file": filename,
            "url": url,
        }
    found = verify_weights(path, filename, source, verify=False)
    _load_backbone(model, torch.load(path, map_location="cpu", weights_only=True), path)
    return model, {
        "imagenet_backbone": True,
        "official_file": filename,
        "path": str(path),
        "source": source,
        "sha256": found.sha256,
        "official_hash_matches": found.verified,
    }


@dataclass
class Segmenter:
    """A trained segmenter ready to label uint8 images; ``sha256`` identifies the checkpoint file.

    ``size`` is the generated images' resolution it was trained for; ``protocol`` says whether it segments at
    that size (``logits``) or at the label maps' resolution (``pix2pix``, images upsampled first).
    """

    model: Any
    arch: str
    classes: list[str]
    size: int
    ignore_index: int = 255
    device: str = "cpu"
    path: Path | None = None
    sha256: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    protocol: str = UNRECORDED_PROTOCOL

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def logits(self, images: np.ndarray) -> Any:
        """uint8 (N, H, W, 3) -> logits (N, K, h, w); checks that the network emits exactly K channels.

        Under ``logits`` the images are first brought to the segmenter's size (h = w = size); under ``pix2pix``
        they are segmented at the resolution given (the label maps', after :func:`scoring_input`).
        """
        import torch

        x = prepare_input(images, self.size if self.protocol == "logits" else None, self.device)
        with torch.no_grad():
            out = self.model(x)["out"]
        if out.shape[1] != self.num_classes:
            raise DataError(f"segmenter {self.path} outputs {out.shape[1]} channels for {self.num_classes} classes")
        return out

    def record(self) -> dict[str, Any]:
        return {
            "segmenter": str(self.path) if self.path else None,
            "segmenter_sha256": self.sha256,
            "arch": self.arch,
            "segmenter_size": self.size,
            "imagenet_backbone": self.info.get("backbone", {}).get("imagenet_backbone"),
            "protocol": self.protocol,
        }


def prepare_input(images: np.ndarray, size: int | None, device: str = "cpu") -> Any:
    """uint8 (N, H, W, 3) -> ImageNet-normalised float (N, 3, size, size), or (N, 3, H, W) when ``size`` is None:
    the same path in training and scoring."""
    import torch
    import torch.nn.functional as F

    x = to_float_batch(images, device)
    if size is not None and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def load_segmenter(path: str | os.PathLike[str], device: str = "cpu") -> Segmenter:
    """A segmenter checkpoint written by ``ganrepro segmenter train``, in eval mode on ``device``."""
    import torch

    path = Path(path).resolve()
    if not path.is_file():
        raise UserError(f"segmenter checkpoint not found: {path} (train one with `ganrepro segmenter train DATASET`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"cannot read segmenter checkpoint {path}: {str(err).strip().splitlines()[0]}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not a ganrepro segmenter checkpoint")
    model, _ = build_segmenter(payload["arch"], len(payload["classes"]), backbone_weights=None)
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    protocol = check_protocol(str(payload.get("protocol", UNRECORDED_PROTOCOL)), f"{path}: protocol")
    return Segmenter(
        model,
        payload["arch"],
        list(payload["classes"]),
        int(payload["size"]),
        int(payload["ignore_index"]),
        device,
        path,
        sha256_file(path),
        dict(payload.get("info", {})),
        protocol,
    )


def fcn_score(
    segmenter: Segmenter,
    images: Sequence[NamedImage],
    labels: dict[str, Path],
    batch_size: int = 8,
    desc: str = "segmenting",
    per_image: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """FCN-score of ``images`` against their label maps under the segmenter's protocol: one confusion matrix
    over the whole set.

    ``per_image``, when given, receives each image's matrix in image order (``fcn_confusion``, see
    :mod:`.per_image`), so that a report can bootstrap the score over test images.
    """
    import torch
    import torch.nn.functional as F

    start = time.perf_counter()
    acc = ConfusionAccumulator(segmenter.num_classes, segmenter.ignore_index)
    matrices: list[np.ndarray] = []
    if segmenter.protocol == "pix2pix":
        shapes = {i.name: label_shape(labels[i.name]) for i in images}
        images = [NamedImage(i.name, lambda i=i: scoring_input(i.rgb(), shapes[i.name], "pix2pix")) for i in images]
        # segmenting at the labels' resolution: hold as many pixels per batch as at the segmenter's size
        batch_size = max(1, batch_size * segmenter.size**2 // max([h * w for h, w in shapes.values()] or [1]))
    for names, array in progress(batches(images, batch_size), desc=desc, total=-(-len(images) // batch_size)):
        logits = segmenter.logits(array)
        for name, item_logits in zip(names, logits):
            label = read_label(labels[name])
            if tuple(item_logits.shape[-2:]) != label.shape:
                item_logits = F.interpolate(item_logits[None], size=label.shape, mode="bilinear", align_corners=False)[
                    0
                ]
            pred = torch.argmax(item_logits, dim=0).cpu().numpy()
            matrices.append(acc.update(label, pred, name))
    if acc.images != len(images):
        raise DataError(f"segmented {acc.images} of {len(images)} images")
    if per_image is not None:
        per_image["fcn_confusion"] = np.stack(matrices)
    result = acc.scores(segmenter.classes)
    result.update(
        confusion_matrix=acc.matrix.tolist(),
        **segmenter.record(),
        input_resize=INPUT_RESIZE[segmenter.protocol],
        prediction_resize=PREDICTION_RESIZE[segmenter.protocol],
        ignore_index=segmenter.ignore_index,
        absent_class_note=ABSENT_CLASS_NOTE,
        seconds=round(time.perf_counter() - start, 3),
    )
    return result


def ground_truth_scores(
    prepared_dir: str | os.PathLike[str],
    segmenter: Segmenter | str | os.PathLike[str],
    split: str = "test",
    device: str = "cpu",
    batch_size: int = 8,
    refresh: bool = False,
    size: int | None = None,
    per_image: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The scorer's ceiling: the FCN-score of the real photos of ``split``, cached beside the checkpoint.

    The photos go through the generated images' path: resized to ``size`` (default: the segmenter's, which is
    the generated images' resolution) as ``evaluate`` writes ``real/``, held as uint8, then scored under the
    segmenter's protocol.  The cache file is keyed by the protocol, the size, the prepared data's hash and the
    checkpoint's SHA-256, so it is computed once per dataset, scorer and protocol and never reused for another.
    ``per_image``, when given, receives the photos' names and per-image matrices (``fcn_gt_names``,
    ``fcn_gt_confusion``), cached beside the JSON as ``.npz``.
    """
    import json

    from ganrepro.preparation.reader import label_paths, load_manifest, photos

    prepared = Path(prepared_dir)
    manifest = load_manifest(prepared)
    seg = segmenter if isinstance(segmenter, Segmenter) else load_segmenter(segmenter, device)
    if seg.path is None or seg.sha256 is None:
        raise ValueError("ground_truth_scores needs a segmenter loaded from (or saved to) a checkpoint file")
    if list(manifest["classes"]) != seg.classes:
        raise DataError(f"segmenter {seg.path} was trained for other classes than {prepared}")
    size = int(size or seg.size)
    key = f"{split}_{seg.protocol}_{size}_{str(manifest['data_hash'])[:16]}_{seg.sha256[:12]}"
    cache = seg.path.parent / f"ground_truth_{key}.json"
    matrices = cache.with_suffix(".npz")
    if cache.is_file() and not refresh and (per_image is None or matrices.is_file()):
        if per_image is not None:
            with np.load(matrices, allow_pickle=False) as stored:
                per_image.update(fcn_gt_names=stored["names"], fcn_gt_confusion=stored["confusion"])
        return json.loads(cache.read_text())
    real = [NamedImage(r.name, lambda r=r: as_generated(r.rgb(), size)) for r in photos(prepared, split, manifest)]
    if not real:
        raise DataError(f"no images in {prepared / split}")
    found: dict[str, Any] = {}
    result = fcn_score(
        seg, real, label_paths(prepared, split, [r.name for r in real]), batch_size, "ground truth", found
    )
    result.update(
        split=split,
        data_hash=manifest["data_hash"],
        prepared_dir=str(prepared),
        real_size=size,
        real_images=REAL_IMAGES,
        cache_file=str(cache),
    )
    names = np.array([r.name for r in real])
    with atomic_path(matrices) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, names=names, confusion=found["fcn_confusion"])
    write_json(cache, result)
    if per_image is not None:
        per_image.update(fcn_gt_names=names, fcn_gt_confusion=found["fcn_confusion"])
    return result
