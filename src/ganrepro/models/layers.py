"""Building blocks shared by the generators and discriminators.

The reference implementation's parameter counts depend on two small rules that every network must apply
identically, so they live here once: which normalisation layer a name means, and whether a convolution
that feeds that normalisation carries its own bias.  The weight initialisation and the conv-arithmetic
helpers (receptive field, output size) are here for the same reason.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import nn

from ganrepro.errors import ConfigError

NormName = Literal["batch", "instance", "none"]
NORM_NAMES: tuple[str, ...] = ("batch", "instance", "none")

NormFactory = Callable[[int], nn.Module]


def check_norm(norm: str) -> None:
    """Reject an unknown normalisation name with a message listing the allowed ones."""
    if norm not in NORM_NAMES:
        raise ConfigError(f"unknown norm {norm!r}; allowed: {', '.join(NORM_NAMES)}")


def get_norm_layer(norm: str) -> NormFactory:
    """Return a factory ``channels -> module`` for the named normalisation.

    batch: BatchNorm2d with a learned affine (the pix2pix default).  instance: InstanceNorm2d without affine
    parameters or running statistics, as CycleGAN's reference code uses it.  none: identity, so callers can
    always append ``factory(channels)`` without special-casing.
    """
    check_norm(norm)
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    return lambda channels: nn.Identity()


def conv_bias(norm: str) -> bool:
    """Whether a conv that feeds the named norm layer gets a bias.

    BatchNorm's learned shift makes a preceding bias redundant, so the reference code drops it; instance
    norm (without affine) and no norm keep it.  Matching this is what makes the parameter counts exact.
    """
    check_norm(norm)
    return norm != "batch"


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """Initialise as the papers do: conv/linear weights N(0, gain), BatchNorm weights N(1, gain), biases 0.

    Draws from torch's global RNG on purpose: the trainer seeds it first, so one seed gives one set of
    weights.  Returns the module for chaining.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d) and layer.affine:
            nn.init.normal_(layer.weight, 1.0, gain)
            nn.init.zeros_(layer.bias)
    return module


def make_instance_norm_affine(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """Give every instance norm of ``module`` a learned scale and shift, initialised N(1, gain) and 0.

    The Lua CycleGAN code's InstanceNormalization is affine (and its weight init draws every
    "Normalization" weight from N(1, 0.02)); the PyTorch port's is not.  Swapping the layers after a network is
    built keeps one architecture definition for both.  Returns the module for chaining.
    """
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.InstanceNorm2d) and not child.affine:
                affine = nn.InstanceNorm2d(
                    child.num_features,
                    eps=child.eps,
                    momentum=child.momentum,
                    affine=True,
                    track_running_stats=child.track_running_stats,
                )
                nn.init.normal_(affine.weight, 1.0, gain)
                nn.init.zeros_(affine.bias)
                setattr(parent, name, affine.to(next(module.parameters()).device))
    return module


def zero_conv_biases(*modules: nn.Module) -> None:
    """Set every convolution bias to 0 in place, as the Lua code does before each D and each G update."""
    with torch.no_grad():
        for module in modules:
            for layer in module.modules():
                if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and layer.bias is not None:
                    layer.bias.zero_()


def count_parameters(module: nn.Module) -> int:
    """Total number of parameter elements (trainable or not); works on meta-device modules too."""
    return sum(p.numel() for p in module.parameters())


def receptive_field_of(layers: Iterable[tuple[int, int]]) -> int:
    """Receptive field of one output unit of a chain of (kernel, stride) layers.

    Walks the chain backwards from a single unit: rf <- (rf - 1) * stride + kernel.  Padding shifts the
    field but does not change its size.
    """
    rf = 1
    for kernel, stride in reversed(list(layers)):
        rf = (rf - 1) * stride + kernel
    return rf


def output_size_of(layers: Iterable[tuple[int, int, int]], size: int) -> int:
    """Spatial output size of a chain of (kernel, stride, padding) convolutions on a ``size`` input."""
    for kernel, stride, padding in layers:
        size = math.floor((size + 2 * padding - kernel) / stride) + 1
    return size
