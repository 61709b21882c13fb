"""Architecture names → networks.

Configs and the CLI name networks as the papers do (``unet_256``, ``patch70``, ...).  This module parses
those names, validates them against the image size, builds and initialises the networks, and lists the
named architectures with their sizes (the ``ganrepro models`` command).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn

from ganrepro.errors import ConfigError
from ganrepro.models.discriminators import (
    ChainDiscriminator,
    ConvSpec,
    nlayer_specs,
    pixel_specs,
    specs_output_size,
    specs_receptive_field,
)
from ganrepro.models.generators import DROPOUT_NAMES, MIN_UNET_DOWNS, ResnetGenerator, UnetGenerator
from ganrepro.models.layers import check_norm, count_parameters, init_weights

GENERATOR_NAMES: list[str] = [
    "unet_256",
    "unet_128",
    "encoder_decoder_256",
    "encoder_decoder_128",
    "resnet_9blocks",
    "resnet_6blocks",
]
GENERATOR_PATTERNS = (
    "unet_N and encoder_decoder_N (N a power of two >= 32), unet and encoder_decoder (depth from "
    "image_size), resnet_Nblocks (N >= 1)"
)
RESNET_DEPTH = ResnetGenerator.n_downsampling

#: Each named discriminator's layer list for (input channels, ndf).  The PatchGAN names are the receptive
#: fields of n_layers 1..5, computed from the layer lists themselves.
DISCRIMINATOR_LAYERS: dict[str, Callable[[int, int], list[ConvSpec]]] = {
    "pixel": pixel_specs,
    **{
        f"patch{specs_receptive_field(nlayer_specs(1, 1, n))}": functools.partial(nlayer_specs, n_layers=n)
        for n in range(1, 6)
    },
}
DISCRIMINATOR_NAMES: list[str] = list(DISCRIMINATOR_LAYERS)

_UNET_RE = re.compile(r"(unet|encoder_decoder)(?:_(\d+))?")
_RESNET_RE = re.compile(r"resnet_(\d+)blocks")


def _unknown_generator(name: str) -> ConfigError:
    return ConfigError(
        f"unknown generator {name!r}; allowed: {', '.join(GENERATOR_NAMES)} (patterns: {GENERATOR_PATTERNS})"
    )


def _depth_for_size(size: int, what: str) -> int:
    """num_downs for a U-Net whose bottleneck is 1×1 at ``size``: log2(size), size a power of two >= 32."""
    if size < 2**MIN_UNET_DOWNS or size & (size - 1):
        raise ConfigError(f"{what} must be a power of two >= {2**MIN_UNET_DOWNS} for a U-Net, got {size}")
    return size.bit_length() - 1


def generator_depth(name: str, image_size: int | None) -> int | None:
    """Number of stride-2 downsamplings of the named generator (inputs need sides divisible by 2^depth).

    None when the name takes its depth from ``image_size`` (``unet``, ``encoder_decoder``) and none is
    given.  Raises ConfigError for unknown names.
    """
    match = _UNET_RE.fullmatch(name)
    if match:
        if match.group(2) is not None:
            return _depth_for_size(int(match.group(2)), f"the size in {name!r}")
        return None if image_size is None else _depth_for_size(image_size, f"image_size for {name!r}")
    match = _RESNET_RE.fullmatch(name)
    if match and int(match.group(1)) >= 1:
        return RESNET_DEPTH
    raise _unknown_generator(name)


def _check_channels(**counts: int) -> None:
    for what, value in counts.items():
        if value < 1:
            raise ConfigError(f"{what} must be >= 1, got {value}")


def build_generator(
    name: str,
    input_nc: int,
    output_nc: int,
    *,
    ngf: int = 64,
    norm: str = "batch",
    dropout: str = "pytorch",
    image_size: int | None = None,
    init_gain: float = 0.02,
) -> nn.Module:
    """Build and initialise the named generator (see GENERATOR_PATTERNS for the accepted names).

    ``image_size``, when given, is checked against the depth so that a size the network cannot map back
    to itself fails here with a clear message rather than as a shape error mid-training.
    """
    depth = generator_depth(name, image_size)
    check_norm(norm)
    if dropout not in DROPOUT_NAMES:
        raise ConfigError(f"unknown dropout {dropout!r}; allowed: {', '.join(DROPOUT_NAMES)}")
    _check_channels(input_nc=input_nc, output_nc=output_nc, ngf=ngf)
    if depth is None:
        raise ConfigError(f"generator {name!r} derives its depth from image_size; give image_size or a sized name")
    if image_size is not None and image_size % 2**depth:
        raise ConfigError(f"generator {name!r} needs image sides divisible by {2**depth}, got {image_size}")
    resnet = _RESNET_RE.fullmatch(name)
    net: nn.Module
    if resnet:
        # CycleGAN's residual blocks carry no dropout under either reference's convention.
        net = ResnetGenerator(input_nc, output_nc, ngf=ngf, norm=norm, n_blocks=int(resnet.group(1)))
    else:
        skip = name.startswith("unet")
        net = UnetGenerator(input_nc, output_nc, depth, ngf=ngf, norm=norm, dropout=dropout, skip=skip)
    return init_weights(net, init_gain)


def discriminator_specs(name: str, input_nc: int = 1, ndf: int = 1) -> list[ConvSpec]:
    """The named discriminator's layer list (ConfigError listing the names when ``name`` is not one)."""
    if name not in DISCRIMINATOR_LAYERS:
        raise ConfigError(f"unknown discriminator {name!r}; allowed: {', '.join(DISCRIMINATOR_NAMES)}")
    return DISCRIMINATOR_LAYERS[name](input_nc, ndf)


def receptive_field(name: str) -> int:
    """Receptive field (pixels per side) of the named discriminator, from its kernel/stride chain."""
    return specs_receptive_field(discriminator_specs(name))


def discriminator_output_size(name: str, image_size: int) -> int:
    """Side of the logit map the named discriminator produces on an ``image_size`` square input."""
    return specs_output_size(discriminator_specs(name), image_size)


def build_discriminator(
    name: str, input_nc: int, *, ndf: int = 64, norm: str = "batch", init_gain: float = 0.02
) -> nn.Module:
    """Build and initialise the named discriminator (one of DISCRIMINATOR_NAMES) from its layer list; it
    outputs logits."""
    specs = discriminator_specs(name, input_nc, ndf)  # the name first, so errors list the allowed names
    check_norm(norm)
    _check_channels(input_nc=input_nc, ndf=ndf)
    return init_weights(ChainDiscriminator(specs, norm), init_gain)


@dataclass(frozen=True)
class ArchitectureInfo:
    """One row of the architecture listing."""

    name: str
    kind: Literal["generator", "discriminator"]
    params: int
    receptive_field: int | None
    norm: str
    input_nc: int
    output_map: tuple[int, int] | None

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["output_map"] = None if self.output_map is None else list(self.output_map)
        return row


def _name_size(name: str) -> int | None:
    match = _UNET_RE.fullmatch(name)
    return int(match.group(2)) if match and match.group(2) else None


def describe_architectures(norm: str = "batch", disc_input_nc: int = 6, map_size: int = 256) -> list[ArchitectureInfo]:
    """Every named generator (3→3 channels) and discriminator (``disc_input_nc`` channels) with its size.

    Networks are built on the meta device: parameter shapes are all a count needs, so listing the 54M
    parameter U-Net costs no memory, no init time and no draws from the global RNG.
    """
    check_norm(norm)
    _check_channels(input_nc=disc_input_nc)
    rows: list[ArchitectureInfo] = []
    with torch.device("meta"):
        for name in GENERATOR_NAMES:
            net = build_generator(name, 3, 3, norm=norm, image_size=_name_size(name))
            rows.append(ArchitectureInfo(name, "generator", count_parameters(net), None, norm, 3, None))
        for name in DISCRIMINATOR_NAMES:
            net = build_discriminator(name, disc_input_nc, norm=norm)
            side = discriminator_output_size(name, map_size)
            params, rf = count_parameters(net), receptive_field(name)
            rows.append(ArchitectureInfo(name, "discriminator", params, rf, norm, disc_input_nc, (side, side)))
    return rows
