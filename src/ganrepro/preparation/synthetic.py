"""``synthetic``: deterministic facade-like scenes, so that the whole pipeline runs offline.

Each scene is a CMP-style label map (the 12 facade classes in a plausible layout: sky/background, wall,
cornice, floors of window grids with sills, deco, blinds, balconies, mouldings, pillars, a shop front or a
door) and a photo rendered from it with per-scene colours, per-class textures (brick courses, glass
reflections, shutter slats, balcony bars), a lighting gradient, soft edges and noise.  Colours vary per
scene, so labels->photo is genuinely one-to-many, while the classes stay visually separable, so a segmenter
can learn photo->labels.

Scene i of a split depends only on (seed, split, i): changing counts never changes existing scenes.  The
scenes are written as PNG A|B pairs (A = photo, B = colour map, like facades) plus the true label maps into
``extracted/synthetic/``, then prepared by the same aligned recipe as the real sets (which decodes the colour
maps back and is checked against the truth); unaligned ``trainA/trainB/testA/testB`` are the same scenes'
photo and label halves, as in CycleGAN's facades set.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganrepro.errors import DataError, UserError
from ganrepro.preparation.labels import palette_array, render_colour_map
from ganrepro.preparation.recipes import build_aligned, manifest_fields, up_to_date
from ganrepro.preparation.registry import DatasetSpec, extracted_dir, prepared_dir
from ganrepro.preparation.staging import PreparedBuilder, remove_stale, staging_prefix

GENERATOR_VERSION = 1
(BACKGROUND, FACADE, WINDOW, DOOR, CORNICE, SILL, BALCONY, BLIND, DECO, MOLDING, PILLAR, SHOP) = range(12)
_SPLIT_CODES = {"train": 0, "test": 1}
_WALLS = np.array(
    [
        [214, 196, 160],
        [190, 186, 178],
        [205, 160, 110],
        [222, 208, 190],
        [176, 104, 84],
        [232, 226, 214],
        [200, 178, 150],
        [160, 150, 140],
    ],
    dtype=np.float64,
)


# ---------------------------------------------------------------------------------------------- layout


def _fill(labels: np.ndarray, y0: float, y1: float, x0: float, x1: float, cls: int) -> None:
    """Paint the rectangle [y0, y1) x [x0, x1) (pixel units, rounded, at least 1 px) with ``cls``."""
    s = labels.shape[0]
    top, left = int(round(np.clip(y0, 0, s))), int(round(np.clip(x0, 0, s)))
    bottom, right = max(int(round(np.clip(y1, 0, s))), top + 1), max(int(round(np.clip(x1, 0, s))), left + 1)
    labels[top : min(bottom, s), left : min(right, s)] = cls


def scene_labels(rng: np.random.Generator, size: int) -> np.ndarray:
    """One facade layout as an (S, S) uint8 map of CMP class indices."""
    s = float(size)
    labels = np.full((size, size), FACADE, dtype=np.uint8)
    sky = rng.uniform(0.0, 0.16) * s
    left = rng.uniform(0, 0.08) * s if rng.random() < 0.4 else 0.0
    right = s - (rng.uniform(0, 0.08) * s if rng.random() < 0.4 else 0.0)
    street = rng.uniform(0.0, 0.05) * s
    _fill(labels, 0, sky, 0, s, BACKGROUND)
    _fill(labels, 0, s, 0, left, BACKGROUND)
    _fill(labels, 0, s, right, s, BACKGROUND)
    top = sky
    if rng.random() < 0.85:  # roof cornice
        height = rng.uniform(0.025, 0.06) * s
        _fill(labels, sky, sky + height, left, right, CORNICE)
        top = sky + height
    bottom = s - street
    _fill(labels, bottom, s, left, right, BACKGROUND)
    floors = int(rng.integers(3, 7))
    shop = rng.random() < 0.5
    ground = (bottom - top) * rng.uniform(0.2, 0.3) if shop else 0.0
    floor_h = (bottom - top - ground) / floors
    cols = int(rng.integers(3, 7))
    bay = (right - left) / cols
    win_w, win_h = bay * rng.uniform(0.35, 0.6), floor_h * rng.uniform(0.45, 0.7)
    style = {
        k: rng.random() < p
        for k, p in (("sill", 0.8), ("deco", 0.4), ("blind", 0.35), ("balcony", 0.4), ("molding", 0.5), ("pillar", 0.3))
    }
    door_col = int(rng.integers(cols))
    for f in range(floors):
        y = top + f * floor_h
        if style["molding"] and f > 0:
            _fill(labels, y - floor_h * 0.04, y + floor_h * 0.04, left, right, MOLDING)
        is_ground = not shop and f == floors - 1
        balcony_floor = style["balcony"] and not is_ground and rng.random() < 0.5
        for c in range(cols):
            cx = left + (c + 0.5) * bay
            wy0 = y + (floor_h - win_h) * 0.55
            if is_ground and c == door_col:
                _fill(labels, y + floor_h * 0.2, y + floor_h, cx - win_w * 0.5, cx + win_w * 0.5, DOOR)
                continue
            if style["deco"]:
                _fill(labels, wy0 - floor_h * 0.12, wy0 - floor_h * 0.03, cx - win_w * 0.6, cx + win_w * 0.6, DECO)
            if style["blind"]:
                _fill(labels, wy0, wy0 + win_h, cx - win_w * 0.85, cx - win_w * 0.5, BLIND)
                _fill(labels, wy0, wy0 + win_h, cx + win_w * 0.5, cx + win_w * 0.85, BLIND)
            _fill(labels, wy0, wy0 + win_h, cx - win_w * 0.5, cx + win_w * 0.5, WINDOW)
            if style["sill"]:
                _fill(
                    labels, wy0 + win_h, wy0 + win_h + max(floor_h * 0.05, 1), cx - win_w * 0.6, cx + win_w * 0.6, SILL
                )
            if balcony_floor:
                _fill(labels, wy0 + win_h * 0.6, wy0 + win_h, cx - win_w * 0.7, cx + win_w * 0.7, BALCONY)
    if style["pillar"]:
        for c in range(cols + 1):
            x = left + c * bay
            _fill(labels, top, bottom - ground, x - bay * 0.05, x + bay * 0.05, PILLAR)
    if shop:
        _fill(labels, bottom - ground, bottom, left, right, SHOP)
        dx = left + (door_col + 0.5) * bay
        _fill(labels, bottom - ground * 0.8, bottom, dx - win_w * 0.4, dx + win_w * 0.4, DOOR)
    return labels


# ---------------------------------------------------------------------------------------------- rendering


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a coarse random grid, upsampled and softened."""
    coarse = rng.normal(size=(cells + 1, cells + 1))
    idx = np.linspace(0, cells, size)
    i0 = np.minimum(idx.astype(int), cells - 1)
    t = idx - i0
    rows = coarse[i0] * (1 - t)[:, None] + coarse[i0 + 1] * t[:, None]
    return rows[:, i0] * (1 - t)[None, :] + rows[:, i0 + 1] * t[None, :]


def _soften(img: np.ndarray, strength: float) -> np.ndarray:
    """A [1 2 1]/4 blur in x and y, mixed in by ``strength``: photo-like soft edges.

    Weaker at small sizes, where a full blur would erase the 1-pixel sills and mouldings.
    """
    out = img.copy()
    out[:, 1:-1] = (img[:, :-2] + 2 * img[:, 1:-1] + img[:, 2:]) / 4
    tmp = out.copy()
    out[1:-1] = (tmp[:-2] + 2 * tmp[1:-1] + tmp[2:]) / 4
    return strength * out + (1 - strength) * img


def render_photo(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """An (S, S, 3) uint8 'photo' of a label map: per-scene colours, class textures, light and noise."""
    size = labels.shape[0]
    yy, xx = np.mgrid[0:size, 0:size] / float(size)
    wall = _WALLS[rng.integers(len(_WALLS))] * rng.uniform(0.85, 1.1) + rng.normal(0, 8, 3)
    stone = np.clip(wall * rng.uniform(1.08, 1.2) + 10, 0, 255)
    colours = np.empty((12, 3))
    colours[BACKGROUND] = rng.choice([[150, 185, 220], [205, 210, 215], [120, 125, 130]]) + rng.normal(0, 10, 3)
    colours[FACADE] = wall
    colours[WINDOW] = np.array([45, 55, 70]) + rng.normal(0, 10, 3)
    colours[DOOR] = np.array([90, 60, 40]) * rng.uniform(0.6, 1.3) + rng.normal(0, 8, 3)
    colours[CORNICE] = colours[SILL] = colours[MOLDING] = stone
    colours[BALCONY] = np.array([50, 50, 52]) * rng.uniform(0.7, 1.5)
    colours[BLIND] = rng.choice([[60, 100, 60], [120, 80, 50], [150, 150, 145]]) + rng.normal(0, 8, 3)
    colours[DECO] = stone * 0.95
    colours[PILLAR] = np.clip(wall * rng.uniform(1.05, 1.15), 0, 255)
    colours[SHOP] = np.array([35, 40, 50]) + rng.normal(0, 10, 3)
    img = colours[labels]
    mask = lambda cls: (labels == cls)[..., None]  # noqa: E731
    unit = max(size // 64, 1)
    img *= 1 + 0.06 * _smooth_noise(rng, size, 6)[..., None] * mask(FACADE)
    if rng.random() < 0.5:  # brick courses
        img *= 1 - 0.08 * (((yy * size) // (2 * unit)) % 2 == 0)[..., None] * mask(FACADE)
    glass = 45 * (1 - yy) + 25 * np.sin((xx + yy) * 9 + rng.uniform(0, 6.3))
    img += glass[..., None] * (mask(WINDOW) | mask(SHOP))
    img *= 1 - 0.3 * (((yy * size) // unit) % 2 == 0)[..., None] * mask(BLIND)
    img *= 1 - 0.4 * (((xx * size) // unit) % 2 == 0)[..., None] * mask(BALCONY)
    img[:, :, 2:] += 30 * (1 - yy)[..., None] * mask(BACKGROUND)[..., :1]
    shadow = np.zeros(labels.shape, dtype=bool)  # shadows under cornices, sills and balconies
    shadow[1:] = np.isin(labels[:-1], (CORNICE, SILL, BALCONY)) & ~np.isin(labels[1:], (CORNICE, SILL, BALCONY))
    img *= 1 - 0.25 * shadow[..., None]
    light = 1 + rng.uniform(-0.25, 0.25) * (xx - 0.5) + rng.uniform(-0.2, 0.2) * (yy - 0.5)
    img = _soften(img * light[..., None] * rng.uniform(0.85, 1.15), min(1.0, size / 256))
    img += rng.normal(0, rng.uniform(2, 7), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def scene(seed: int, split: str, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(photo (S, S, 3), labels (S, S)) of scene ``index`` of ``split``; a pure function of its arguments."""
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
    labels = scene_labels(rng, size)
    return render_photo(rng, labels), labels


# ---------------------------------------------------------------------------------------------- prepare


#: Bounds that keep a typo from generating terabytes (the papers' images are 256 px; facades has 606 pairs).
MAX_SIZE = 4096
MAX_COUNT = 1_000_000


def generator_params(spec: DatasetSpec, options: dict[str, int]) -> dict[str, int]:
    """Registry defaults overridden by the command line; validated."""
    unknown = set(options) - {"size", "train", "test", "seed"}
    if unknown:
        raise UserError(f"unknown synthetic option(s): {', '.join(sorted(unknown))}")
    params = {
        "size": spec.image_size,
        "train": spec.splits.get("train", 200),
        "test": spec.splits.get("test", 50),
        "seed": 0,
        **spec.generator,
        **{k: int(v) for k, v in options.items() if v is not None},
    }
    if not 16 <= params["size"] <= MAX_SIZE or params["size"] % 2:
        raise UserError(f"synthetic --size must be an even number >= 16 and <= {MAX_SIZE}, got {params['size']}")
    for key in ("train", "test"):
        if not 1 <= params[key] <= MAX_COUNT:
            raise UserError(f"synthetic --{key} must be >= 1 and <= {MAX_COUNT}, got {params[key]}")
    if not 0 <= params["seed"] <= 2**32 - 1:
        raise UserError(f"synthetic --seed must be >= 0 and <= 2**32 - 1 (numpy's seed range), got {params['seed']}")
    return {
        "seed": params["seed"],
        "size": params["size"],
        "train": params["train"],
        "test": params["test"],
        "version": GENERATOR_VERSION,
    }


def write_scenes(spec: DatasetSpec, target: Path, params: dict[str, int]) -> None:
    """``target/pairs/{split}/{i}.png`` (photo | colour map) and ``target/labels/{split}/{i}.png``."""
    assert spec.labels is not None
    palette = palette_array(spec.labels)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.generating-"
    remove_stale(target.parent, (prefix,))  # left by a generator killed outright (kill -9)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(prefix), dir=target.parent))
    try:
        for split in ("train", "test"):
            (staging / "pairs" / split).mkdir(parents=True)
            (staging / "labels" / split).mkdir(parents=True)
            for i in range(1, params[split] + 1):
                photo, labels = scene(params["seed"], split, i, params["size"])
                pair = np.concatenate([photo, render_colour_map(labels, palette)], axis=1)
                Image.fromarray(pair).save(staging / "pairs" / split / f"{i}.png", format="PNG")
                Image.fromarray(labels).save(staging / "labels" / split / f"{i}.png", format="PNG")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_synthetic(
    spec: DatasetSpec,
    data_dir: str | os.PathLike[str] | None,
    *,
    force: bool,
    options: dict[str, int],
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Generate the scenes and prepare them (aligned + unaligned + labels) in one go."""
    params = generator_params(spec, options)
    target = prepared_dir(spec.name, data_dir)
    current = up_to_date(target, None, params)
    if current is not None and not force:
        log(f"{spec.name}: already prepared with {params} (use --force to redo)")
        return current
    source = extracted_dir(spec.name, data_dir) / "synthetic"
    log(
        f"{spec.name}: generating {params['train']} train + {params['test']} test scenes of "
        f"{params['size']}x{params['size']} (seed {params['seed']}) ..."
    )
    write_scenes(spec, source, params)
    with PreparedBuilder(target) as builder:
        build_aligned(spec, builder, source / "pairs", log=log)
        for split in ("train", "test"):
            _check_labels(builder, source / "labels", split)
            _split_halves(builder, split)
        builder.note(
            "synthetic: trainA/testA are the photos (A halves) and trainB/testB the label colour maps "
            "(B halves) of the same scenes as train/test (as in CycleGAN's facades set); "
            "labels/{split}/{stem}.png serve both layouts"
        )
        manifest = builder.commit(manifest_fields(spec, builder, source_sha256=None, generator=params))
    log(f"{spec.name}: prepared {manifest['splits']} in {target} (data_hash {manifest['data_hash']})")
    return manifest


def _check_labels(builder: PreparedBuilder, truth_root: Path, split: str) -> None:
    """The labels decoded by the aligned recipe must equal the generator's truth (lossless PNG round trip)."""
    for truth in sorted((truth_root / split).glob("*.png")):
        decoded = np.asarray(Image.open(builder.path(f"labels/{split}/{truth.name}")))
        if not np.array_equal(decoded, np.asarray(Image.open(truth))):
            raise DataError(f"synthetic: decoded labels of {split}/{truth.name} differ from the generated ones")


def _split_halves(builder: PreparedBuilder, split: str) -> None:
    """``{split}A/{stem}.png`` (photo) and ``{split}B/{stem}.png`` (colour map) from the prepared pairs."""
    for pair_path in sorted((builder.root / split).glob("*.png")):
        pair = np.asarray(Image.open(pair_path))
        h = pair.shape[0]
        for side, half in (("A", pair[:, :h]), ("B", pair[:, h:])):
            builder.save_png(half, f"{split}{side}/{pair_path.name}")
            builder.count(f"{split}{side}")
