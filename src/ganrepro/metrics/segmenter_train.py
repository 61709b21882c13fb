"""``ganrepro segmenter train``: fit the FCN-score's segmenter on a dataset's real training photos.

The segmenter is trained on what it will see when scoring (:mod:`.fcn_protocol`).  Under ``pix2pix`` each
photo (the ``photo_side`` half of a training pair) takes the generated images' path: resized to their
resolution (``size``, the generators' crop size) as ``evaluate`` writes ``real/``, held as uint8, then
upsampled with PIL bilinear to its label map's resolution; the label map is never resized.  Full-resolution
label maps (Cityscapes: 2048×1024) make that costly, so ``train_crop`` trains on random square crops of that
side (the network is fully convolutional and scores whole images).  Under ``logits`` photos are fed at
``size`` through the scoring path's resize and label maps are resized to ``size`` with nearest neighbour.
The only augmentation is a horizontal flip shared by photo and label.  AdamW with a polynomial (power 0.9)
learning-rate decay, seeded initialisation, shuffling and crops, no data-loader workers: two runs with the same
seed on CPU give the same checkpoint.  The validation scores are the ground-truth row on the test split (the
scorer's ceiling), which is cached beside the checkpoint for
:func:`~ganrepro.metrics.segmenter.ground_truth_scores`.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from ganrepro import __version__
from ganrepro.atomic import torch_save, write_json
from ganrepro.errors import ConfigError, DataError
from ganrepro.hashing import sha256_file
from ganrepro.metrics import progress
from ganrepro.metrics.confusion import check_range
from ganrepro.metrics.fcn_protocol import (
    DEFAULT_PROTOCOL,
    INPUT_RESIZE,
    as_generated,
    check_protocol,
    label_shape,
    upsample_to,
)
from ganrepro.metrics.imagesets import read_label
from ganrepro.metrics.segmenter import (
    CHECKPOINT_FORMAT,
    DEFAULT_ARCH,
    Segmenter,
    build_segmenter,
    ground_truth_scores,
    prepare_input,
)
from ganrepro.preparation.reader import image_size, label_paths, load_manifest, photos

#: How training photos reach the network under each protocol (recorded in segmenter.json).
TRAINING_INPUT = {
    "pix2pix": "resized to {size} as real/ is written (PIL bicubic), uint8, then " + INPUT_RESIZE["pix2pix"],
    "logits": INPUT_RESIZE["logits"],
}
SUMMARY_KEYS = (
    "pixel_acc",
    "class_acc",
    "class_iou",
    "class_acc_present_only",
    "class_iou_present_only",
    "absent_classes",
    "n_images",
    "per_class",
)


def default_out(prepared: Path, arch: str, size: int) -> Path:
    """``{data_dir}/{name}/segmenter/{arch}-{size}``: beside (not inside) the prepared data, whose hash it keeps."""
    return prepared.parent / "segmenter" / f"{arch}-{size}"


class SegmentationData:
    """(uint8 photo (H, W, 3), int64 label (H, W)) items of one split as the protocol's segmenter sees them,
    range-checked on load: label maps at full resolution under ``pix2pix`` (randomly cropped to ``train_crop``
    when given, seeded by ``seed``), resized to ``size`` under ``logits``."""

    def __init__(
        self,
        prepared: Path,
        split: str,
        manifest: dict[str, Any],
        size: int,
        protocol: str = DEFAULT_PROTOCOL,
        train_crop: int | None = None,
        seed: int = 0,
    ) -> None:
        import torch

        self.items = photos(prepared, split, manifest)
        if not self.items:
            raise DataError(f"no training pairs in {prepared / split}")
        self.labels = label_paths(prepared, split, [i.name for i in self.items])
        self.size = size
        self.protocol = check_protocol(protocol)
        self.num_classes = len(manifest["classes"])
        self.ignore_index = int(manifest["ignore_index"])
        self.crop = self._crop_side(train_crop)
        self.generator = torch.Generator().manual_seed(seed)

    def _crop_side(self, train_crop: int | None) -> int | None:
        """The side of the random crops (at most the smallest label map's), or None for whole images, which
        must then share one size to be batched."""
        if self.protocol == "logits":
            if train_crop is not None:
                raise ConfigError("a training crop applies to the pix2pix FCN protocol only (logits trains at --size)")
            return None
        shapes = {label_shape(p) for p in self.labels.values()}
        if train_crop is not None and train_crop < max(max(shape) for shape in shapes):
            return min(train_crop, min(min(shape) for shape in shapes))
        if len(shapes) > 1:
            raise DataError(
                f"label maps in {next(iter(self.labels.values())).parent} have different sizes "
                f"{sorted(shapes)[:3]}: set a training crop (fcn.train_crop / --train-crop)"
            )
        return None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        import torch
        from PIL import Image

        item = self.items[index]
        label = read_label(self.labels[item.name])
        check_range(label.astype(np.int64), self.num_classes, self.ignore_index, str(self.labels[item.name]), "label")
        if self.protocol == "pix2pix":
            photo = upsample_to(as_generated(item.rgb(), self.size), label.shape)
            if self.crop is not None:
                y, x = (int(torch.randint(0, n - self.crop + 1, (1,), generator=self.generator)) for n in label.shape)
                photo, label = photo[y : y + self.crop, x : x + self.crop], label[y : y + self.crop, x : x + self.crop]
        else:
            photo = item.rgb()
            if label.shape != (self.size, self.size):
                label = np.asarray(
                    Image.fromarray(label.astype(np.uint8)).resize((self.size, self.size), Image.Resampling.NEAREST)
                )
        return torch.from_numpy(np.array(photo)), torch.from_numpy(label.astype(np.int64))


def train_segmenter(
    prepared: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    arch: str = DEFAULT_ARCH,
    size: int | None = None,
    epochs: int = 30,
    batch_size: int = 8,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
    backbone_weights: str | None = "auto",
    max_steps: int | None = None,
    val_split: str = "test",
    protocol: str = DEFAULT_PROTOCOL,
    train_crop: int | None = None,
) -> dict[str, Any]:
    """Train for ``protocol``, write ``segmenter.pt`` and ``segmenter.json`` (atomically) into ``out``; return the
    json record."""
    import torch
    import torchvision

    prepared = Path(prepared)
    manifest = load_manifest(prepared)
    classes = [str(c) for c in manifest["classes"]]
    size = int(size or image_size(manifest))
    out = Path(out) if out else default_out(prepared, arch, size)
    start = time.perf_counter()

    torch.manual_seed(seed)
    model, backbone = build_segmenter(arch, len(classes), backbone_weights)
    model.to(device).train()
    data = SegmentationData(prepared, "train", manifest, size, protocol, train_crop, seed)
    batch_size = max(1, min(batch_size, len(data)))
    shuffle = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=True, generator=shuffle, drop_last=len(data) > batch_size, num_workers=0
    )
    total = epochs * len(loader) if max_steps is None else min(max_steps, epochs * len(loader))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / max(1, total)) ** 0.9)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=data.ignore_index)
    history: list[dict[str, float]] = []
    step = 0
    for epoch in range(epochs):
        losses = []
        for photo, label in progress(loader, desc=f"segmenter epoch {epoch + 1}/{epochs}", total=len(loader)):
            flip = torch.rand(photo.shape[0], generator=shuffle) < 0.5
            photo[flip], label[flip] = photo[flip].flip(2), label[flip].flip(2)
            logits = model(prepare_input(photo.numpy(), size if protocol == "logits" else None, device))["out"]
            loss = loss_fn(logits, label.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
            if step >= total:
                break
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else float("nan")})
        if step >= total:
            break
    train_seconds = time.perf_counter() - start

    info = {
        "dataset": manifest["name"],
        "prepared_dir": str(prepared),
        "data_hash": manifest["data_hash"],
        "arch": arch,
        "classes": classes,
        "num_classes": len(classes),
        "size": size,
        "backbone": backbone,
        "epochs": len(history),
        "epochs_requested": epochs,
        "steps": step,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": "AdamW (weight decay 1e-4), poly 0.9 decay",
        "augmentation": "horizontal flip",
        "protocol": protocol,
        "input_resize": TRAINING_INPUT[protocol].format(size=size),
        "label_resize": "nearest" if protocol == "logits" else "none (full resolution)",
        "train_crop": data.crop,
        "seed": seed,
        "device": str(device),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "python": platform.python_version(),
        "ganrepro": __version__,
    }
    ckpt = out / "segmenter.pt"
    model.eval()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch_save(
        {
            "format": CHECKPOINT_FORMAT,
            "arch": arch,
            "classes": classes,
            "size": size,
            "protocol": protocol,
            "ignore_index": data.ignore_index,
            "state_dict": state,
            "info": info,
        },
        ckpt,
    )
    segmenter = Segmenter(
        model, arch, classes, size, data.ignore_index, device, ckpt, sha256_file(ckpt), {"backbone": backbone}, protocol
    )
    val = ground_truth_scores(prepared, segmenter, split=val_split, device=device, refresh=True)
    record = {
        **info,
        "checkpoint": str(ckpt),
        "checkpoint_sha256": segmenter.sha256,
        "train_seconds": round(train_seconds, 3),
        "loss_history": history,
        "val": {
            "split": val_split,
            **{k: val[k] for k in SUMMARY_KEYS},
            "seconds": val["seconds"],
            "protocol": val["protocol"],
            "ground_truth_cache": val["cache_file"],
        },
    }
    write_json(out / "segmenter.json", record)
    return record
