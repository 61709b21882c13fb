"""The Cityscapes recipe: the pix2pix labels<->photo set built from the user's official zips.

As the reference does it: frames of gtFine/{split}/*/*_gtFine_color.png and
leftImg8bit/{split}/*/*_leftImg8bit.png are sorted, their names must match one to one, both are resized to
256x256 (bicubic; this squashes the 2:1 frames) and written photo | colour labels side by side as JPEG
(quality 100, no chroma subsampling); val becomes test.  Files are numbered, so ``index_map.json`` maps each
stem back to its ``{city}_{seq}_{frame}``.  For the FCN-score, ``*_gtFine_labelIds.png`` are mapped to the
19 trainIds (255 = ignore) and kept at full resolution in ``labels/{split}/{stem}.png``.

Stems are numbered across splits (train 1..2975, test 2976..3475) so that the flat ``{stem: frame}`` index
map stays unambiguous.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ganrepro.errors import DataError
from ganrepro.preparation.imagecheck import read_checked, read_label_ids
from ganrepro.preparation.labels import map_label_ids, train_id_table
from ganrepro.preparation.registry import DatasetSpec
from ganrepro.preparation.staging import PreparedBuilder

#: (source split, prepared split): the reference trains on train and tests on val.
SPLITS = (("train", "train"), ("val", "test"))
PHOTO_SUFFIX = "_leftImg8bit.png"
COLOUR_SUFFIX = "_gtFine_color.png"
IDS_SUFFIX = "_gtFine_labelIds.png"


def _find(folders: list[Path], name: str) -> Path:
    """The ``gtFine`` or ``leftImg8bit`` folder inside one of the extracted archives."""
    for folder in folders:
        for candidate in (folder / name, *(p / name for p in sorted(folder.iterdir()) if p.is_dir())):
            if candidate.is_dir():
                return candidate
    raise DataError(
        f"cityscapes: no {name}/ folder in {', '.join(map(str, folders))} "
        f"(expected the official gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip)"
    )


def frames(root: Path, split: str, suffix: str) -> dict[str, Path]:
    """``{city_seq_frame: path}`` of ``root/split/*/*{suffix}``, sorted by name."""
    paths = sorted((root / split).glob(f"*/*{suffix}"), key=lambda p: p.name)
    return {p.name[: -len(suffix)]: p for p in paths}


def matched_frames(gt_root: Path, photo_root: Path, split: str) -> list[tuple[str, Path, Path, Path]]:
    """(frame, photo, colour labels, label ids) for every frame of ``split``; names must match exactly."""
    photos = frames(photo_root, split, PHOTO_SUFFIX)
    colours = frames(gt_root, split, COLOUR_SUFFIX)
    ids = frames(gt_root, split, IDS_SUFFIX)
    if not photos:
        raise DataError(f"cityscapes: no *{PHOTO_SUFFIX} under {photo_root / split}")
    for name, other in (("gtFine colour", colours), ("gtFine labelIds", ids)):
        if list(other) != list(photos):
            missing = sorted(set(photos) ^ set(other))
            raise DataError(
                f"cityscapes {split}: {name} files do not match the photos one to one "
                f"({len(other)} vs {len(photos)}; e.g. {missing[0] if missing else 'order differs'})"
            )
    return [(frame, photos[frame], colours[frame], ids[frame]) for frame in photos]


def build_cityscapes(
    spec: DatasetSpec,
    builder: PreparedBuilder,
    folders: list[Path],
    *,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> None:
    """Write ``{train,test}/{n}.jpg`` pairs, full-resolution trainId ``labels/``, and ``index_map.json``."""
    if spec.labels is None:
        raise DataError("cityscapes recipe needs the cityscapes_19 label set")
    gt_root, photo_root = _find(folders, "gtFine"), _find(folders, "leftImg8bit")
    table = train_id_table(spec.labels)
    size = spec.image_size
    index: dict[str, str] = {}
    for source_split, split in SPLITS:
        items = matched_frames(gt_root, photo_root, source_split)
        log(f"cityscapes: {len(items)} {source_split} frames -> {split}/ ...")
        for frame, photo_path, colour_path, ids_path in items:
            stem = str(len(index) + 1)
            photo, colour = read_checked(photo_path), read_checked(colour_path)
            ids = read_label_ids(ids_path)
            if photo.size != colour.size or photo.size != (ids.shape[1], ids.shape[0]):
                raise DataError(
                    f"{ids_path}: size {ids.shape[1]}x{ids.shape[0]} / colour {colour.size} do not "
                    f"match the photo {photo_path} {photo.size}"
                )
            pair = np.concatenate([_resize(photo.rgb, size), _resize(colour.rgb, size)], axis=1)
            Image.fromarray(pair).save(builder.path(f"{split}/{stem}.jpg"), format="JPEG", quality=100, subsampling=0)
            builder.save_png(map_label_ids(ids, table), f"labels/{split}/{stem}.png")
            builder.count(split, (size, size))
            index[stem] = frame
    builder.save_json(index, "index_map.json")
    builder.extra["label_resolution"] = "full (as gtFine)"
    builder.note(
        f"reference recipe: photo | gtFine colour labels, both resized to {size}x{size} (bicubic), "
        "JPEG quality 100 without chroma subsampling; val became test"
    )
    builder.note(
        "labels/{split}/{stem}.png: gtFine labelIds mapped to the 19 trainIds (255 = ignore) at full "
        "resolution; index_map.json maps each stem to its {city}_{seq}_{frame}; stems are numbered "
        "across splits (train first, then test) so that they are unique"
    )


def _resize(rgb: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BICUBIC))
