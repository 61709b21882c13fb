"""PatchGAN and PixelGAN discriminators, described as layer lists.

Each discriminator is a plain chain of convolutions, so it is written down once as a list of
:class:`ConvSpec` and both the module and its receptive field / output size are derived from that one
list.  That way the "70" in "70×70 PatchGAN" is computed from the layers actually built, never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganrepro.errors import ConfigError
from ganrepro.models.layers import conv_bias, get_norm_layer, output_size_of, receptive_field_of

LEAKY_SLOPE = 0.2
MAX_WIDTH_MULT = 8  # channels stop doubling at 8·ndf


@dataclass(frozen=True)
class ConvSpec:
    """One conv of a discriminator and what follows it.

    ``always_bias`` marks convs that keep a bias whatever the norm (the first conv, which has no norm after
    it, and the PatchGAN's final 1-channel conv); the others follow :func:`conv_bias`.
    """

    in_ch: int
    out_ch: int
    kernel: int
    stride: int
    padding: int
    norm: bool
    leaky: bool
    always_bias: bool = False


def nlayer_specs(input_nc: int, ndf: int, n_layers: int) -> list[ConvSpec]:
    """Layer list of the PatchGAN with ``n_layers`` stride-2 convs (pytorch-CycleGAN-and-pix2pix, networks.py
    NLayerDiscriminator; the Lua pix2pix defineD_n_layers)."""
    if n_layers < 1:
        raise ConfigError(f"a PatchGAN needs n_layers >= 1, got {n_layers}")
    specs = [ConvSpec(input_nc, ndf, 4, 2, 1, norm=False, leaky=True, always_bias=True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2**n, MAX_WIDTH_MULT)
        specs.append(ConvSpec(ndf * prev, ndf * mult, 4, 2, 1, norm=True, leaky=True))
    prev, mult = mult, min(2**n_layers, MAX_WIDTH_MULT)
    specs.append(ConvSpec(ndf * prev, ndf * mult, 4, 1, 1, norm=True, leaky=True))
    specs.append(ConvSpec(ndf * mult, 1, 4, 1, 1, norm=False, leaky=False, always_bias=True))
    return specs


def pixel_specs(input_nc: int, ndf: int) -> list[ConvSpec]:
    """Layer list of the 1×1 PixelGAN: three 1×1 convs, a norm on the middle one."""
    return [
        ConvSpec(input_nc, ndf, 1, 1, 0, norm=False, leaky=True, always_bias=True),
        ConvSpec(ndf, ndf * 2, 1, 1, 0, norm=True, leaky=True),
        ConvSpec(ndf * 2, 1, 1, 1, 0, norm=False, leaky=False),
    ]


def specs_receptive_field(specs: list[ConvSpec]) -> int:
    """Receptive field (pixels per side) of one output unit of the chain."""
    return receptive_field_of((s.kernel, s.stride) for s in specs)


def specs_output_size(specs: list[ConvSpec], size: int) -> int:
    """Side of the output logit map for a ``size``×``size`` input."""
    return output_size_of(((s.kernel, s.stride, s.padding) for s in specs), size)


def specs_min_input_size(specs: list[ConvSpec]) -> int:
    """The smallest input side the chain can process: every normalised layer keeps at least 2×2 values (batch
    norm with batch 1 needs more than one) and the logit map at least 1×1."""
    size = 1
    while True:
        sides, side = [], size
        for s in specs:
            side = output_size_of([(s.kernel, s.stride, s.padding)], side)
            sides.append((side, s.norm))
        if sides[-1][0] >= 1 and all(side >= 2 for side, norm in sides if norm):
            return size
        size += 1


class ChainDiscriminator(nn.Module):
    """A discriminator built from a layer list (:func:`nlayer_specs`: PatchGAN, which classifies each
    receptive-field-sized patch as real or fake; :func:`pixel_specs`: PixelGAN, judging colour statistics
    only); outputs logits (no sigmoid: the loss applies it)."""

    def __init__(self, specs: list[ConvSpec], norm: str) -> None:
        super().__init__()
        norm_layer = get_norm_layer(norm)
        layers: list[nn.Module] = []
        for s in specs:
            bias = s.always_bias or conv_bias(norm)
            layers.append(nn.Conv2d(s.in_ch, s.out_ch, s.kernel, stride=s.stride, padding=s.padding, bias=bias))
            if s.norm:
                layers.append(norm_layer(s.out_ch))
            if s.leaky:
                layers.append(nn.LeakyReLU(LEAKY_SLOPE, True))
        self.model = nn.Sequential(*layers)
        self.min_input_size = specs_min_input_size(specs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; an image smaller than the chain can process (e.g. 64 px into the 286×286 ImageGAN) is first
        zero-padded, centred, to :attr:`min_input_size`: the paper pads fields larger than the image with
        zeros, and images at least that large (all paper settings) are untouched."""
        pad_h, pad_w = max(0, self.min_input_size - x.shape[-2]), max(0, self.min_input_size - x.shape[-1])
        if pad_h or pad_w:
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        return self.model(x)
