"""The aligned and unaligned recipes of ``ganrepro prepare``, and what every recipe shares.

- ``aligned`` (pix2pix sets): every ``{split}/`` of A|B pairs is decoded, checked (2:1, RGB) and copied
  byte for byte; for colour label sets the label half is decoded to ``labels/{split}/{stem}.png``.
- ``unaligned`` (CycleGAN sets): ``trainA/ trainB/ testA/ testB/`` checked and copied; colour label sets
  also get ``labels/{trainB,testB}/{stem}.png`` from the label side.

:func:`up_to_date` and :func:`manifest_fields` serve every recipe, the generated set's included, so that
recipes depend on this module and the dispatcher (:mod:`.prepare`) on them, never the other way round.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganrepro.errors import DataError
from ganrepro.images import list_images
from ganrepro.preparation.imagecheck import CheckedImage, check_pair, halves, read_checked
from ganrepro.preparation.labels import DecodeStats, decode_colour_map, palette_array
from ganrepro.preparation.manifest import load_manifest
from ganrepro.preparation.registry import DatasetSpec
from ganrepro.preparation.staging import PreparedBuilder

#: Bump when a recipe's output changes, so that `prepare` redoes up-to-date looking folders.
RECIPE_VERSION = 1
UNALIGNED_FOLDERS = ("trainA", "trainB", "valA", "valB", "testA", "testB")
ALIGNED_ORDER = ("train", "val", "test")

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr)


def up_to_date(
    target: Path, source_sha256: str | None, generator: dict[str, int] | None = None
) -> dict[str, Any] | None:
    """The existing manifest when it was made by this recipe version from the same source, else None."""
    try:
        manifest = load_manifest(target)
    except DataError:
        return None
    same = (
        manifest.get("source_sha256") == source_sha256
        and manifest.get("recipe_version") == RECIPE_VERSION
        and manifest.get("generator") == generator
    )
    return manifest if same else None


def manifest_fields(spec: DatasetSpec, builder: PreparedBuilder, **extra: Any) -> dict[str, Any]:
    """The manifest keys every recipe shares (files, notes and data_hash are added by the builder)."""
    labels = spec.labels
    return {
        "name": spec.name,
        "kind": spec.kind,
        "family": spec.family,
        "recipe": spec.recipe,
        "recipe_version": RECIPE_VERSION,
        "source_sha256": extra.pop("source_sha256"),
        **extra,
        "splits": dict(builder.splits),
        "official_splits": dict(spec.splits),
        "image_size": builder.image_size(),
        "domains": dict(spec.domains),
        "photo_side": spec.photo_side,
        "labels_to_photo": spec.labels_to_photo,
        "classes": list(labels.classes) if labels else None,
        "palette": [list(c) for c in labels.colours] if labels else None,
        "ignore_index": labels.ignore_index if labels else 255,
    }


def find_root(spec: DatasetSpec, folder: Path, split_names: tuple[str, ...]) -> Path:
    """The folder holding the split folders: ``{extracted}/{root}`` or the single folder that has them."""
    candidates = [folder / spec.root] if spec.root else []
    candidates += [folder] + sorted(p for p in folder.iterdir() if p.is_dir())
    for candidate in candidates:
        if candidate.is_dir() and any((candidate / s).is_dir() for s in split_names):
            return candidate
    raise DataError(f"{spec.name}: no {'/'.join(split_names)} folders found in {folder} (unexpected archive layout)")


# ---------------------------------------------------------------------------------------------- aligned


def build_aligned(spec: DatasetSpec, builder: PreparedBuilder, root: Path, *, log: Log = stderr_log) -> None:
    """Check and copy every A|B pair of every split folder; decode colour labels when the set has them."""
    splits = [s for s in ALIGNED_ORDER if (root / s).is_dir()]
    splits += sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in splits and list_images(p))
    decoder = LabelWriter(spec, builder)
    for split in splits:
        paths = list_images(root / split)
        if not paths:
            raise DataError(f"{root / split}: no images")
        log(f"{spec.name}: checking {len(paths)} {split} pairs ...")
        seen: set[str] = set()
        for path in paths:
            image = read_checked(path)
            check_pair(image)
            rel = copy_checked(builder, image, split, seen)
            builder.count(split, (image.size[1], image.size[1]))
            if decoder.active:
                a, b = halves(image)
                decoder.write(b if spec.photo_side == "A" else a, split, Path(rel).stem)
    decoder.finish()


def copy_checked(builder: PreparedBuilder, image: CheckedImage, folder: str, seen: set[str]) -> str:
    """Copy an RGB image unchanged, or save a converted one as PNG with a note; return its relative path."""
    stem = image.path.stem
    if stem in seen:
        raise DataError(f"{image.path}: a second image with stem {stem!r} in {folder}/ (stems name label maps)")
    seen.add(stem)
    if image.mode == "RGB":
        rel = f"{folder}/{image.path.name}"
        builder.copy(image.path, rel)
    else:
        rel = f"{folder}/{stem}.png"
        builder.save_png(image.rgb, rel)
        builder.note(f"{folder}/{image.path.name}: mode {image.mode} converted to RGB, saved as {rel}")
    return rel


# ---------------------------------------------------------------------------------------------- unaligned


def build_unaligned(spec: DatasetSpec, builder: PreparedBuilder, root: Path, *, log: Log = stderr_log) -> None:
    """Check and copy trainA/trainB/testA/testB (and valA/valB when present)."""
    decoder = LabelWriter(spec, builder)
    label_side = {"A": "B", "B": "A"}.get(spec.photo_side or "")
    for folder in UNALIGNED_FOLDERS:
        if not (root / folder).is_dir():
            continue
        paths = list_images(root / folder)
        log(f"{spec.name}: checking {len(paths)} images in {folder} ...")
        seen: set[str] = set()
        for path in paths:
            image = read_checked(path)
            rel = copy_checked(builder, image, folder, seen)
            builder.count(folder, image.size if folder.endswith("A") else None)
            if decoder.active and folder.endswith(label_side or "-"):
                decoder.write(image.rgb, folder, Path(rel).stem)
    decoder.finish()


# ---------------------------------------------------------------------------------------------- labels


class LabelWriter:
    """Decodes colour label maps to ``labels/{split}/{stem}.png`` and tallies how well colours matched.

    Only for ``colour`` label sets (Cityscapes ids are handled by their own recipe).  If the first map does
    not look like a colour map of this palette at all, labels are skipped with a note rather than written as
    nonsense: on the real facades every B half has >= 67% of its pixels within 60 levels of a palette colour,
    every photo (A half) <= 4%.
    """

    MIN_MATCH = 0.2

    def __init__(self, spec: DatasetSpec, builder: PreparedBuilder) -> None:
        self.builder = builder
        self.active = spec.labels is not None and spec.labels.kind == "colour"
        self.palette = palette_array(spec.labels) if self.active else np.zeros((0, 3), np.int32)
        self.stats = DecodeStats()
        self.checked = False

    def write(self, colours: np.ndarray, split: str, stem: str) -> None:
        labels, distance, redecided = decode_colour_map(colours, self.palette)
        if not self.checked:
            self.checked = True
            match = float((distance <= 60).mean())
            if match < self.MIN_MATCH:
                self.active = False
                self.builder.note(
                    f"labels not written: {split}/{stem} does not look like a colour label map "
                    f"(only {match:.0%} of pixels within 60 of a palette colour)"
                )
                return
        self.stats.add(distance, redecided)
        self.builder.save_png(labels, f"labels/{split}/{stem}.png")

    def finish(self) -> None:
        if self.stats.pixels:
            s = self.stats.as_dict()
            self.builder.extra["label_decoding"] = s
            self.builder.note(
                f"label maps decoded by nearest palette colour; pixels within 10 / 30 RGB levels of their colour: "
                f"{s['within_10']:.1%} / {s['within_30']:.1%}; pixels > 40 levels from every colour (JPEG-smeared "
                f"class boundaries) were decided by luma with chroma down-weighted, which changed "
                f"{s['boundary_redecided']:.1%} of all pixels"
            )
