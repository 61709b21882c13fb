"""A config's networks, built exactly as the trainer builds them, so that its checkpoints load into them.

Evaluation needs only the generators (:func:`build_generators`); the training models add the discriminators
(:func:`build_config_discriminator`) after them, in that order, so that the draws of the weight init from
the run's seed are the same whoever builds the generators.
"""

from __future__ import annotations

import torch
from torch import nn

from ganrepro.config import Config
from ganrepro.fidelity import Fidelity
from ganrepro.models import build_discriminator, build_generator, make_instance_norm_affine


def generator_channels(config: Config) -> dict[str, tuple[int, int]]:
    """(input, output) channels of each generator, the translating one (input domain → output) first:
    pix2pix's ``G``; CycleGAN's ``G_A`` and ``G_B``."""
    data = config.data
    if config.model == "pix2pix":
        return {"G": (data.input_nc, data.output_nc)}
    return {"G_A": (data.input_nc, data.output_nc), "G_B": (data.output_nc, data.input_nc)}


def forward_net(config: Config) -> str:
    """The generator that translates the table's input domain into its output domain."""
    return next(iter(generator_channels(config)))


def _as_reference(module: nn.Module, config: Config, device: torch.device) -> nn.Module:
    """The network as the configured reference code has it (the Lua CycleGAN's affine instance norm), on
    ``device``."""
    if Fidelity.of(config).affine_instance_norm:
        make_instance_norm_affine(module, config.network.init_gain)
    return module.to(device)


def build_generators(config: Config, device: torch.device) -> dict[str, nn.Module]:
    """Every generator of the config's model, initialised, in :func:`generator_channels`' order."""
    net = config.network
    return {
        name: _as_reference(
            build_generator(
                net.generator,
                inp,
                out,
                ngf=net.ngf,
                norm=net.norm,
                dropout=net.dropout,
                image_size=config.data.crop_size,
                init_gain=net.init_gain,
            ),
            config,
            device,
        )
        for name, (inp, out) in generator_channels(config).items()
    }


def build_config_discriminator(config: Config, input_nc: int, device: torch.device) -> nn.Module:
    """The config's discriminator for ``input_nc`` channels, initialised."""
    net = config.network
    return _as_reference(
        build_discriminator(net.discriminator, input_nc, ndf=net.ndf, norm=net.norm, init_gain=net.init_gain),
        config,
        device,
    )
