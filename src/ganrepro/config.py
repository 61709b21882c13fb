"""Typed, validated training configs: YAML files under ``params/`` plus ``--set key=value`` overrides.

A config is a tree of dataclasses.  Loading is strict so that a typo can never silently train the wrong
ablation: unknown keys, values of the wrong type and impossible combinations raise :class:`ConfigError`
naming the key and the allowed values *before* any data is read or any network is built.

The two objectives live in their own sections (``pix2pix`` and ``cyclegan``); ``model`` picks which one runs.
Each switch maps onto one row of the papers' ablation tables:

============================  ==========================================================
pix2pix Table 1 row           settings
============================  ==========================================================
L1                            ``pix2pix.gan=none``  (no discriminator is built)
GAN                           ``pix2pix.gan=unconditional pix2pix.lambda_l1=0``
cGAN                          ``pix2pix.gan=conditional pix2pix.lambda_l1=0``
L1+GAN                        ``pix2pix.gan=unconditional`` (lambda_l1 100)
L1+cGAN                       ``pix2pix.gan=conditional`` (lambda_l1 100, the default)
============================  ==========================================================

CycleGAN Table 4: ``cyclegan.use_gan`` (false = cycle alone), ``cyclegan.forward_cycle`` (A→B→A) and
``cyclegan.backward_cycle`` (B→A→B).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ganrepro.errors import ConfigError
from ganrepro.yamlio import load_mapping


@dataclass
class DataConfig:
    """Where the prepared dataset is and how each training pair is jittered (the paper: 286 → crop 256, flip)."""

    root: str = "data/synthetic/prepared"
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    input_nc: int = 3
    output_nc: int = 3
    max_items: int | None = None  # use only the first N training items (quick profiles)
    num_workers: int = 0  # DataLoader worker processes when the split is not kept resident (GPU profiles set it)
    # Keep the training split decoded and resized on the training device (ganrepro.loading.resident): ``auto``
    # when it fits ``resident_budget_mb``, ``on`` always, ``off`` never (a DataLoader reads every step).
    resident: Literal["auto", "on", "off"] = "auto"
    resident_budget_mb: int = 4096


@dataclass
class NetworkConfig:
    """Architectures by name (see ``ganrepro models``); dropout placement: reference PyTorch vs paper's Lua."""

    generator: str = "unet_256"
    discriminator: str = "patch70"
    norm: Literal["batch", "instance", "none"] = "batch"
    ngf: int = 64
    ndf: int = 64
    dropout: Literal["pytorch", "lua", "none"] = "pytorch"
    init_gain: float = 0.02


@dataclass
class Pix2PixObjective:
    """G loss = GAN term (if ``gan`` is not none) + lambda_l1 · L1; D sees (A, B) when conditional."""

    gan: Literal["conditional", "unconditional", "none"] = "conditional"
    gan_mode: Literal["vanilla", "lsgan", "wgangp"] = "vanilla"
    lambda_l1: float = 100.0
    gp_weight: float = 10.0  # only used with gan_mode wgangp


@dataclass
class CycleGANObjective:
    """G loss = GAN terms + λ_A·forward cycle + λ_B·backward cycle + identity (λ_idt scaled by λ_A/λ_B)."""

    use_gan: bool = True
    forward_cycle: bool = True  # A -> B -> A, weighted by lambda_A
    backward_cycle: bool = True  # B -> A -> B, weighted by lambda_B
    gan_mode: Literal["vanilla", "lsgan", "wgangp"] = "lsgan"
    lambda_A: float = 10.0
    lambda_B: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    gp_weight: float = 10.0


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping.  ``lr_step`` makes the scheduler timing an explicit choice:

    ``epoch_end`` (the original reference behaviour, used for the papers' results): epoch k (1-based) trains at
    lr · (1 − max(0, k − n_epochs) / (n_epochs_decay + 1)), so the last epoch trains at lr / (decay + 1).
    ``epoch_start`` (the reference code after 2020): epoch k trains at the factor for k + 1, the last at 0.
    ``lua`` (the Lua CycleGAN code): epoch k trains at lr · (1 − max(0, k − 1 − n_epochs) / n_epochs_decay), so
    the last epoch trains at lr / n_epochs_decay.

    ``n_epochs``, ``n_epochs_decay`` and ``lr_step`` left null take the schedule of the top-level ``reference``
    (resolved when the config is loaded, so ``config.yaml`` records the numbers): pix2pix under ``lua`` trains
    200 epochs at a constant rate as the Lua code behind its tables did; see :mod:`ganrepro.fidelity`.
    """

    batch_size: int = 1
    lr: float = 0.0002
    beta1: float = 0.5
    beta2: float = 0.999
    n_epochs: int | None = None  # null: the reference's schedule (see ganrepro.fidelity)
    n_epochs_decay: int | None = None
    lr_step: Literal["epoch_end", "epoch_start", "lua"] | None = None  # null: the reference's
    checkpoint_every_epochs: int = 10  # keep checkpoints/epoch_NNNN.pt every N epochs (0 = never)
    latest_every_steps: int = 500  # refresh checkpoints/latest.pt mid-epoch (and always at epoch end)
    sample_every_steps: int = 500  # write a sample grid (and always at the end of training)
    plot_every_epochs: int = 10  # redraw loss_curves.png every N epochs (and always at the end; 0 = only then)
    sample_count: int = 4
    # Whole-step CUDA graphs (ganrepro.training.graphs): ``auto`` = on when training on CUDA, ``off`` = eager.
    cuda_graph: Literal["auto", "on", "off"] = "auto"


@dataclass
class Config:
    """``reference`` picks whose code the run follows where the papers' Lua code and the later PyTorch port
    differ (schedule, bias zeroing, resize and crop offsets, the G step's use of D, CycleGAN's update order and
    instance norm, output quantisation): ``lua`` = the code behind the published tables, ``pytorch`` = the port.
    Every difference and its source is listed in :mod:`ganrepro.fidelity` and docs/fidelity.md."""

    model: Literal["pix2pix", "cyclegan"] = "pix2pix"
    reference: Literal["lua", "pytorch"] = "pytorch"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    pix2pix: Pix2PixObjective = field(default_factory=Pix2PixObjective)
    cyclegan: CycleGANObjective = field(default_factory=CycleGANObjective)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short stable hash of the resolved config (used to recognise a run directory's config)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def objective(self) -> Pix2PixObjective | CycleGANObjective:
        return self.pix2pix if self.model == "pix2pix" else self.cyclegan


# ----------------------------------------------------------------------------------------------- loading


def load_config(paths: str | Path | Sequence[str | Path] | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read YAML configs (partial: unspecified keys keep their defaults; later files override earlier
    ones key by key, e.g. a model file then a profile), then apply ``key=value`` overrides."""
    if paths is None:
        paths = []
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    raw: dict[str, Any] = {}
    for path in paths:
        merge_into(raw, load_mapping(path))
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(raw, key, value)
    return config_from_dict(raw)


def merge_into(base: dict[str, Any], layer: Mapping[str, Any]) -> None:
    """Deep-merge ``layer`` into ``base`` (sections merge, values replace)."""
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_into(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value


def parse_override(item: str) -> tuple[str, Any]:
    """``a.b=value`` -> ("a.b", value parsed as a YAML scalar: 1, 0.5, true, null, text)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key=value (dotted keys, e.g. train.lr=0.0001)")
    key, text = item.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key, value


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {key!r}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def config_from_dict(raw: Mapping[str, Any]) -> Config:
    from ganrepro.fidelity import resolve_schedule

    config = _build(Config, raw, prefix="")
    resolve_schedule(config)
    validate(config)
    if config.network.generator in ("unet", "encoder_decoder"):
        # Record the concrete architecture (e.g. unet_64) in the resolved config, not the shorthand.
        config.network.generator = f"{config.network.generator}_{config.data.crop_size}"
    return config


def _build(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        allowed = ", ".join(fields)
        where = f" in {prefix.rstrip('.')}" if prefix else ""
        raise ConfigError(f"unknown key '{prefix}{unknown[0]}'; allowed keys{where}: {allowed}")
    values = {}
    for name, value in raw.items():
        key = prefix + name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value if value is not None else {}, prefix=key + ".")
        else:
            values[name] = _coerce(key, hint, value)
    return cls(**values)


def _coerce(key: str, hint: Any, value: Any) -> Any:
    """Check ``value`` against a field's type hint; the only conversions are int -> float and numeric text."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if isinstance(value, bool) and {"on", "off"} <= set(allowed):
            value = "on" if value else "off"  # YAML 1.1 reads a bare on/off as a boolean
        if value not in allowed:
            raise ConfigError(f"{key} = {value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(key, args[0], value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an int too large for a float: refused by name, not a traceback
                raise ConfigError(f"{key} = {value} is too large a number") from None
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key} must be text, got {value!r}")
    raise TypeError(f"unsupported config type {hint!r} for {key}")  # a bug in this module, not user input


# -------------------------------------------------------------------------------------------- validation


def validate(config: Config) -> None:
    """Reject non-finite or out-of-range numbers (:mod:`ganrepro.confignumbers`) and impossible combinations,
    with a message naming the keys involved."""
    from ganrepro.confignumbers import check_numbers
    from ganrepro.models import DISCRIMINATOR_NAMES, generator_depth

    check_numbers(config)
    data, net, train = config.data, config.network, config.train
    if data.max_items is not None and data.max_items < 1:
        raise ConfigError(f"data.max_items must be a positive integer or null, got {data.max_items}")
    if train.n_epochs + train.n_epochs_decay < 1:
        raise ConfigError("train.n_epochs + train.n_epochs_decay must be at least 1")
    if data.crop_size > data.load_size:
        raise ConfigError(
            f"data.crop_size ({data.crop_size}) is larger than data.load_size ({data.load_size}); "
            "the random crop is taken from the resized image, so crop_size must be <= load_size"
        )

    depth = generator_depth(net.generator, data.crop_size)  # raises ConfigError for unknown names
    if depth is not None and data.crop_size % (2**depth) != 0:
        raise ConfigError(
            f"network.generator {net.generator!r} downsamples {depth} times (by {2**depth}), deeper than a "
            f"data.crop_size of {data.crop_size} allows; use a crop that is a multiple of {2**depth} or a "
            f"shallower generator (e.g. unet_{data.crop_size} or 'unet', which derives its depth from the crop)"
        )

    objective = config.objective
    uses_d = (config.model == "pix2pix" and config.pix2pix.gan != "none") or (
        config.model == "cyclegan" and config.cyclegan.use_gan
    )
    if uses_d:
        if net.discriminator not in DISCRIMINATOR_NAMES:
            raise ConfigError(
                f"network.discriminator = {net.discriminator!r} is not allowed; choose one of: "
                f"{', '.join(DISCRIMINATOR_NAMES)}"
            )
        if objective.gan_mode == "wgangp" and objective.gp_weight <= 0:
            raise ConfigError(f"{config.model}.gp_weight must be > 0 when {config.model}.gan_mode is wgangp")

    if config.model == "pix2pix":
        if config.pix2pix.gan == "none" and config.pix2pix.lambda_l1 == 0:
            raise ConfigError(
                "pix2pix.gan = none with pix2pix.lambda_l1 = 0 leaves nothing to train; "
                "set pix2pix.lambda_l1 > 0 or pix2pix.gan to conditional/unconditional"
            )
    else:
        cg = config.cyclegan
        if not (cg.use_gan or cg.forward_cycle or cg.backward_cycle or cg.lambda_identity > 0):
            raise ConfigError(
                "cyclegan.use_gan, forward_cycle and backward_cycle are all off and "
                "lambda_identity is 0: nothing to train"
            )
        if cg.lambda_identity > 0 and data.input_nc != data.output_nc:
            raise ConfigError(
                f"cyclegan.lambda_identity = {cg.lambda_identity} needs data.input_nc == data.output_nc "
                f"(got {data.input_nc} and {data.output_nc}): the identity loss feeds domain-B images to G_A; "
                "set cyclegan.lambda_identity=0"
            )


def dump_yaml(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
