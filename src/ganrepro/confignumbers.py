"""The documented range of every number in a training config, checked before anything is written.

``float('nan')`` compares false with everything, so a ``lambda_l1 <= 0`` style check lets ``.nan`` through and
the run quietly trains another ablation row (no L1 term); values that only torch or numpy check (a negative
seed, Adam's β1 = 5, 100 million channels) end in a traceback after the run directory was created.  So every
float must be finite and every number must lie in the range below; anything else is refused naming the key.

The bounds are wide enough for any experiment in the papers' spirit and narrow enough that a typo cannot
allocate absurd networks: seeds are what numpy and torch accept (0 .. 2**32 - 1), channel widths at most 4096
(the papers use 64), image sides at most 8192 pixels, loss weights at most 10**6.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ganrepro.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """``low <= value <= high``; ``open_low`` / ``open_high`` make a bound strict (``0 < lr``)."""

    low: float
    high: float
    open_low: bool = False
    open_high: bool = False

    def contains(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def describe(self) -> str:
        return f"{'(' if self.open_low else '['}{_fmt(self.low)}, {_fmt(self.high)}{')' if self.open_high else ']'}"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


SEED = Range(0, 2**32 - 1)
WEIGHT = Range(0, 1e6)
EPOCHS = Range(0, 100_000)
STEPS = Range(0, 10**9)

#: Every numeric key of the config and its documented range.
RANGES: dict[str, Range] = {
    "seed": SEED,
    "data.load_size": Range(1, 8192),
    "data.crop_size": Range(1, 8192),
    "data.input_nc": Range(1, 64),
    "data.output_nc": Range(1, 64),
    "data.max_items": Range(1, 10**9),
    "data.num_workers": Range(0, 256),
    "data.resident_budget_mb": Range(0, 10**7),
    "network.ngf": Range(1, 4096),
    "network.ndf": Range(1, 4096),
    "network.init_gain": Range(0, 10, open_low=True),
    "pix2pix.lambda_l1": WEIGHT,
    "pix2pix.gp_weight": WEIGHT,
    "cyclegan.lambda_A": WEIGHT,
    "cyclegan.lambda_B": WEIGHT,
    "cyclegan.lambda_identity": WEIGHT,
    "cyclegan.pool_size": Range(0, 100_000),
    "cyclegan.gp_weight": WEIGHT,
    "train.batch_size": Range(1, 65_536),
    "train.lr": Range(0, 1, open_low=True),
    "train.beta1": Range(0, 1, open_high=True),
    "train.beta2": Range(0, 1, open_high=True),
    "train.n_epochs": EPOCHS,
    "train.n_epochs_decay": EPOCHS,
    "train.checkpoint_every_epochs": EPOCHS,
    "train.latest_every_steps": STEPS,
    "train.sample_every_steps": STEPS,
    "train.plot_every_epochs": EPOCHS,
    "train.sample_count": Range(1, 64),
}

#: Numbers not listed above (a key added later) must still be finite and no larger than this.
DEFAULT = Range(-1e9, 1e9)


def check_numbers(config: Any) -> None:
    """Refuse a non-finite float or an out-of-range number anywhere in ``config`` (a dataclass tree)."""
    for key, value in numeric_leaves(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"{key} = {value} is not a finite number; give a value in {RANGES.get(key, DEFAULT).describe()}"
            )
        allowed = RANGES.get(key, DEFAULT)
        if not allowed.contains(value):
            raise ConfigError(f"{key} = {value} is out of range; it must be in {allowed.describe()}")


def numeric_leaves(node: Any, prefix: str = "") -> list[tuple[str, int | float]]:
    """(dotted key, value) of every int or float field (bools and None excluded) under ``node``."""
    out: list[tuple[str, int | float]] = []
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(value):
            out += numeric_leaves(value, key + ".")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((key, value))
    return out
