"""The two generator families of the papers: the U-Net of pix2pix (and its skip-less encoder-decoder
ablation) and the ResNet generator of CycleGAN.

Both follow the layer rules of the PyTorch port (junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py)
so that parameter counts match it exactly; the encoder-decoder is the U-Net class with ``skip=False`` so the ablation
differs from the U-Net in the concatenations and nothing else.
"""

from __future__ import annotations

import torch
from torch import nn

from ganrepro.errors import ConfigError
from ganrepro.models.layers import conv_bias, get_norm_layer
from ganrepro.models.padding import ReflectionPad2d

DROPOUT_NAMES: tuple[str, ...] = ("pytorch", "lua", "none")
MIN_UNET_DOWNS = 5  # innermost + the 4ngf, 2ngf, ngf blocks + outermost


def unet_dropout_layers(dropout: str, num_downs: int) -> frozenset[int]:
    """Decoder layers (innermost up-conv = 1) that end in Dropout(0.5).

    "pytorch" is the PyTorch reference: the (num_downs - 5) middle 8·ngf blocks, i.e. layers
    2..num_downs-4.  "lua" is the Lua code behind the paper's tables: the first three decoder layers.
    "none" turns dropout off (e.g. for deterministic ablations).
    """
    if dropout not in DROPOUT_NAMES:
        raise ConfigError(f"unknown dropout {dropout!r}; allowed: {', '.join(DROPOUT_NAMES)}")
    if dropout == "pytorch":
        return frozenset(range(2, num_downs - 3))
    if dropout == "lua":
        return frozenset({1, 2, 3})
    return frozenset()


class UnetBlock(nn.Module):
    """One U-Net level: down-conv, the inner levels (``submodule``), up-conv, then the skip.

    Every level except the outermost returns ``cat([x, f(x)])`` when ``skip`` is on, so the next level
    out sees twice the channels on its up-conv.  With ``skip`` off the same layers form the plain
    encoder-decoder and each up-conv takes ``inner_nc`` channels.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        *,
        input_nc: int | None = None,
        submodule: UnetBlock | None = None,
        outermost: bool = False,
        norm: str = "batch",
        dropout: bool = False,
        skip: bool = True,
    ) -> None:
        super().__init__()
        innermost = submodule is None
        input_nc = outer_nc if input_nc is None else input_nc
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        up_in = inner_nc * 2 if (skip and not innermost) else inner_nc

        down_conv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        if outermost:
            # The image goes straight into the first conv; the last up-conv has its own bias and a Tanh
            # so outputs live in [-1, 1] like the normalised targets.
            down: list[nn.Module] = [down_conv]
            up: list[nn.Module] = [
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer_nc, kernel_size=4, stride=2, padding=1, bias=True),
                nn.Tanh(),
            ]
        else:
            # No norm on the innermost down-conv: with batch 1 it would zero the 1x1 bottleneck (errata).
            down = [nn.LeakyReLU(0.2, True), down_conv]
            if not innermost:
                down.append(norm_layer(inner_nc))
            up = [
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias),
                norm_layer(outer_nc),
            ]
            if dropout:
                up.append(nn.Dropout(0.5))
        self.down = nn.Sequential(*down)
        self.submodule = submodule
        self.up = nn.Sequential(*up)
        self.concat = skip and not outermost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(x)
        if self.submodule is not None:
            y = self.submodule(y)
        y = self.up(y)
        return torch.cat([x, y], 1) if self.concat else y


class UnetGenerator(nn.Module):
    """pix2pix's generator: ``num_downs`` stride-2 levels, so inputs need sides divisible by 2^num_downs.

    Built from the innermost level outwards (8ngf innermost, num_downs-5 more 8ngf levels, then 4ngf, 2ngf,
    ngf and the outermost level).  ``skip=False`` gives the encoder-decoder of the paper's generator table.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        num_downs: int,
        *,
        ngf: int = 64,
        norm: str = "batch",
        dropout: str = "pytorch",
        skip: bool = True,
    ) -> None:
        super().__init__()
        if num_downs < MIN_UNET_DOWNS:
            raise ConfigError(f"a U-Net needs at least {MIN_UNET_DOWNS} downsamplings, got {num_downs}")
        self.num_downs = num_downs
        self.skip = skip
        with_dropout = unet_dropout_layers(dropout, num_downs)
        # (outer_nc, inner_nc) per level, innermost first; decoder layer number = index + 1.
        widths = [(ngf * 8, ngf * 8)] * (num_downs - 4) + [(ngf * 4, ngf * 8), (ngf * 2, ngf * 4), (ngf, ngf * 2)]
        block: UnetBlock | None = None
        for layer, (outer_nc, inner_nc) in enumerate(widths, start=1):
            block = UnetBlock(outer_nc, inner_nc, submodule=block, norm=norm, dropout=layer in with_dropout, skip=skip)
        self.model = UnetBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm=norm, skip=skip)

    def blocks_innermost_first(self) -> list[UnetBlock]:
        """The levels in decoder order (index 0 holds decoder layer 1), for inspection and tests."""
        blocks: list[UnetBlock] = []
        block: UnetBlock | None = self.model
        while block is not None:
            blocks.append(block)
            block = block.submodule
        return blocks[::-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetBlock(nn.Module):
    """Residual block of CycleGAN's generator: x + f(x), reflection padding, no ReLU after the add."""

    def __init__(self, channels: int, *, norm: str = "batch", use_dropout: bool = False) -> None:
        super().__init__()
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=bias),
            norm_layer(channels),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [ReflectionPad2d(1), nn.Conv2d(channels, channels, kernel_size=3, bias=bias), norm_layer(channels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: c7s1-ngf, two stride-2 downsamples, ``n_blocks`` residual blocks at 4·ngf,
    two stride-2 upsamples, c7s1-output with Tanh.  Works on any input whose sides are divisible by 4.
    """

    n_downsampling = 2

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        *,
        ngf: int = 64,
        norm: str = "batch",
        n_blocks: int = 9,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        if n_blocks < 1:
            raise ConfigError(f"a ResNet generator needs at least one residual block, got {n_blocks}")
        norm_layer = get_norm_layer(norm)
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, bias=bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        for i in range(self.n_downsampling):
            channels = ngf * 2**i
            layers += [
                nn.Conv2d(channels, channels * 2, kernel_size=3, stride=2, padding=1, bias=bias),
                norm_layer(channels * 2),
                nn.ReLU(True),
            ]
        width = ngf * 2**self.n_downsampling
        layers += [ResnetBlock(width, norm=norm, use_dropout=use_dropout) for _ in range(n_blocks)]
        for i in range(self.n_downsampling, 0, -1):
            channels = ngf * 2**i
            layers += [
                nn.ConvTranspose2d(
                    channels, channels // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias
                ),
                norm_layer(channels // 2),
                nn.ReLU(True),
            ]
        layers += [ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
