"""Generators and discriminators of pix2pix and CycleGAN, built by name with the reference layer rules.

Use :func:`build_generator` / :func:`build_discriminator` with a name from :data:`GENERATOR_NAMES` /
:data:`DISCRIMINATOR_NAMES`; the classes are exported for inspection and tests.
"""

from ganrepro.models.discriminators import ChainDiscriminator
from ganrepro.models.generators import DROPOUT_NAMES, ResnetBlock, ResnetGenerator, UnetBlock, UnetGenerator
from ganrepro.models.layers import (
    NORM_NAMES,
    conv_bias,
    count_parameters,
    get_norm_layer,
    init_weights,
    make_instance_norm_affine,
    zero_conv_biases,
)
from ganrepro.models.registry import (
    DISCRIMINATOR_NAMES,
    GENERATOR_NAMES,
    ArchitectureInfo,
    build_discriminator,
    build_generator,
    describe_architectures,
    discriminator_output_size,
    generator_depth,
    receptive_field,
)

__all__ = [
    "DISCRIMINATOR_NAMES",
    "DROPOUT_NAMES",
    "GENERATOR_NAMES",
    "NORM_NAMES",
    "ArchitectureInfo",
    "ChainDiscriminator",
    "ResnetBlock",
    "ResnetGenerator",
    "UnetBlock",
    "UnetGenerator",
    "build_discriminator",
    "build_generator",
    "conv_bias",
    "count_parameters",
    "describe_architectures",
    "discriminator_output_size",
    "generator_depth",
    "get_norm_layer",
    "init_weights",
    "make_instance_norm_affine",
    "receptive_field",
    "zero_conv_biases",
]
