"""Networks match the reference implementation: exact parameter counts, receptive fields measured by
backprop, output shapes, dropout placement, initialisation, names, and the ``ganrepro models`` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from ganrepro.cli import main
from ganrepro.errors import ConfigError
from ganrepro.models import (
    DISCRIMINATOR_NAMES,
    GENERATOR_NAMES,
    UnetGenerator,
    build_discriminator,
    build_generator,
    count_parameters,
    generator_depth,
    init_weights,
    receptive_field,
)
from ganrepro.models.padding import ReflectionPad2d, reflect_pad

# The PyTorch port's parameter counts (junyanz/pytorch-CycleGAN-and-pix2pix, default ngf = ndf = 64), every
# architecture: (kind, name, norm, input channels, parameters).
REFERENCE_COUNTS = [
    ("generator", "unet_256", "batch", 3, 54_413_955),
    ("generator", "unet_256", "instance", 3, 54_409_603),
    ("generator", "unet_128", "batch", 3, 41_828_995),
    ("generator", "resnet_9blocks", "instance", 3, 11_378_179),
    ("generator", "resnet_6blocks", "instance", 3, 7_837_699),
    ("discriminator", "patch70", "batch", 6, 2_768_705),
    ("discriminator", "patch70", "instance", 3, 2_764_737),
    ("discriminator", "patch16", "batch", 6, 139_585),
    ("discriminator", "patch286", "batch", 6, 11_159_361),
    ("discriminator", "patch34", "batch", 6, 666_433),
    ("discriminator", "patch142", "batch", 6, 6_964_033),
    ("discriminator", "pixel", "batch", 6, 9_024),
    ("discriminator", "patch16", "batch", 3, 136_513),
    ("discriminator", "patch70", "batch", 3, 2_765_633),
    ("discriminator", "patch286", "batch", 3, 11_156_289),
    ("generator", "encoder_decoder_256", "batch", 3, 39_075_459),
]
RECEPTIVE_FIELDS = {"pixel": 1, "patch16": 16, "patch34": 34, "patch70": 70, "patch142": 142, "patch286": 286}


def _build(kind: str, name: str, norm: str, input_nc: int, **kwargs: object) -> nn.Module:
    if kind == "generator":
        return build_generator(name, input_nc, 3, norm=norm, **kwargs)  # type: ignore[arg-type]
    return build_discriminator(name, input_nc, norm=norm, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- parameter counts


@pytest.mark.parametrize(("kind", "name", "norm", "input_nc", "expected"), REFERENCE_COUNTS)
def test_parameter_count_matches_reference(kind: str, name: str, norm: str, input_nc: int, expected: int) -> None:
    # Full-size networks on the meta device: shapes are exact, no memory or init time spent.
    with torch.device("meta"):
        net = _build(kind, name, norm, input_nc)
    assert count_parameters(net) == expected


def test_meta_count_equals_real_build() -> None:
    torch.manual_seed(0)
    for kind, name, norm, input_nc, expected in REFERENCE_COUNTS:
        if name in {"patch70", "resnet_6blocks"}:
            net = _build(kind, name, norm, input_nc)
            assert next(net.parameters()).device.type == "cpu"
            assert count_parameters(net) == expected


def test_receptive_field_values_and_names() -> None:
    assert DISCRIMINATOR_NAMES == ["pixel", "patch16", "patch34", "patch70", "patch142", "patch286"]
    assert GENERATOR_NAMES == [
        "unet_256",
        "unet_128",
        "encoder_decoder_256",
        "encoder_decoder_128",
        "resnet_9blocks",
        "resnet_6blocks",
    ]
    assert {name: receptive_field(name) for name in DISCRIMINATOR_NAMES} == RECEPTIVE_FIELDS


# ---------------------------------------------------------------- receptive field by backprop


@pytest.mark.parametrize("name", DISCRIMINATOR_NAMES)
def test_receptive_field_measured_by_gradient(name: str) -> None:
    """Backprop from one central output unit; the input pixels with non-zero gradient span the RF."""
    torch.manual_seed(0)
    size = 320  # > 286 with margin, so the central unit's field lies fully inside the image
    net = build_discriminator(name, 6, ndf=8, norm="none", init_gain=0.5).double()
    x = torch.randn(1, 6, size, size, dtype=torch.float64, requires_grad=True)
    out = net(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    assert x.grad is not None
    touched = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
    first, last = int(touched.min()), int(touched.max())
    assert first > 0 and last < size - 1, "field clipped by the border: the measurement would be too small"
    assert last - first + 1 == receptive_field(name) == RECEPTIVE_FIELDS[name]


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", ["unet_256", "encoder_decoder_256", "resnet_9blocks"])
def test_generator_maps_256_to_256(name: str) -> None:
    net = build_generator(name, 3, 3, ngf=8, image_size=256)
    with torch.no_grad():
        y = net(torch.randn(1, 3, 256, 256))  # train mode, as pix2pix runs at test time
    assert y.shape == (1, 3, 256, 256)
    assert y.abs().max() <= 1.0  # Tanh output


def test_patch70_output_map_on_256() -> None:
    net = build_discriminator("patch70", 6, ndf=8)
    with torch.no_grad():
        assert net(torch.randn(1, 6, 256, 256)).shape == (1, 1, 30, 30)


def test_unet_auto_depth_from_image_size() -> None:
    assert generator_depth("unet", 64) == 6
    assert generator_depth("unet", None) is None
    assert generator_depth("unet_256", None) == 8
    assert generator_depth("encoder_decoder_128", 128) == 7
    assert generator_depth("resnet_9blocks", 256) == 2
    net = build_generator("unet", 3, 3, ngf=8, image_size=64)
    assert isinstance(net, UnetGenerator) and net.num_downs == 6
    with torch.no_grad():
        assert net(torch.randn(2, 3, 64, 64)).shape == (2, 3, 64, 64)


def test_unet_runs_on_larger_multiples() -> None:
    net = build_generator("unet_32", 3, 2, ngf=4)
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 96)).shape == (1, 2, 64, 96)


@pytest.mark.parametrize("padding", [(1, 1, 1, 1), (3, 3, 3, 3), (2, 0, 1, 3)])
def test_the_cuda_reflection_padding_pads_as_pytorch_and_folds_the_same_gradients(padding) -> None:
    """The padding CUDA runs use, checked on the CPU against PyTorch's kernel: the same values forward,
    gradients equal up to the order of their additions (at most 4 terms a pixel), and autograd's numerical
    check of the backward."""
    x = torch.randn(2, 3, 7, 9, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 3, 7 + padding[2] + padding[3], 9 + padding[0] + padding[1], dtype=torch.float64)
    ours = reflect_pad(x, padding)
    native = nn.functional.pad(x, padding, mode="reflect")
    assert torch.equal(ours, native)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), x)
    (grad_native,) = torch.autograd.grad((native * weights).sum(), x)
    torch.testing.assert_close(grad_ours, grad_native, rtol=0, atol=1e-12)
    assert not torch.equal(grad_native, weights[..., padding[2] : padding[2] + 7, padding[0] : padding[0] + 9])
    assert torch.autograd.gradcheck(lambda t: reflect_pad(t, padding), (x[:1, :1].detach().requires_grad_(),))


def test_resnet_generators_pad_natively_on_the_cpu() -> None:
    """Bit-identical to the reference port on the CPU: the native kernel, in every reflection pad."""
    net = build_generator("resnet_6blocks", 3, 3, ngf=4)
    pads = [m for m in net.modules() if isinstance(m, nn.ReflectionPad2d)]
    assert len(pads) == 2 + 2 * 6 and all(isinstance(m, ReflectionPad2d) for m in pads)
    x = torch.randn(1, 4, 6, 6, requires_grad=True)
    native = nn.ReflectionPad2d(3)(x)
    assert torch.equal(ReflectionPad2d(3)(x), native)
    assert ReflectionPad2d(3)(x).grad_fn.name() == native.grad_fn.name() == "ReflectionPad2DBackward0"


def test_encoder_decoder_has_no_concatenation() -> None:
    unet = build_generator("unet_128", 3, 3, ngf=4)
    plain = build_generator("encoder_decoder_128", 3, 3, ngf=4)
    assert isinstance(unet, UnetGenerator) and isinstance(plain, UnetGenerator)
    assert all(not b.concat for b in plain.blocks_innermost_first())
    assert [b.concat for b in unet.blocks_innermost_first()] == [True] * 6 + [False]


# ---------------------------------------------------------------- dropout placement


def _dropout_layers(net: nn.Module) -> list[int]:
    """Decoder layers (innermost up-conv = 1) whose up path holds a Dropout."""
    assert isinstance(net, UnetGenerator)
    return [
        layer
        for layer, block in enumerate(net.blocks_innermost_first(), start=1)
        if any(isinstance(m, nn.Dropout) for m in block.up)
    ]


@pytest.mark.parametrize(
    ("name", "dropout", "layers"),
    [
        ("unet_256", "pytorch", [2, 3, 4]),
        ("unet_256", "lua", [1, 2, 3]),
        ("unet_128", "pytorch", [2, 3]),
        ("unet_128", "lua", [1, 2, 3]),
        ("unet_256", "none", []),
        ("unet_128", "none", []),
        ("encoder_decoder_256", "lua", [1, 2, 3]),
        ("encoder_decoder_256", "none", []),
    ],
)
def test_dropout_placement(name: str, dropout: str, layers: list[int]) -> None:
    net = build_generator(name, 3, 3, ngf=1, dropout=dropout)
    assert _dropout_layers(net) == layers
    dropouts = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == len(layers) and all(m.p == 0.5 for m in dropouts)


@pytest.mark.parametrize("dropout", ["pytorch", "lua", "none"])
def test_resnet_has_no_dropout(dropout: str) -> None:
    net = build_generator("resnet_6blocks", 3, 3, ngf=2, dropout=dropout)
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())


# ---------------------------------------------------------------- initialisation


def test_init_statistics() -> None:
    torch.manual_seed(1)
    net = build_discriminator("patch70", 6)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        assert abs(conv.weight.std().item() - 0.02) < 0.002
        assert abs(conv.weight.mean().item()) < 0.002
        if conv.bias is not None:
            assert torch.count_nonzero(conv.bias) == 0
    assert convs[0].bias is not None and convs[-1].bias is not None  # no norm after them
    assert all(c.bias is None for c in convs[1:-1])  # batch norm follows: no bias
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 3
    for bn in norms:
        assert abs(bn.weight.mean().item() - 1.0) < 0.01 and 0.01 < bn.weight.std().item() < 0.03
        assert torch.count_nonzero(bn.bias) == 0


def test_init_gain_and_seed_reproducibility() -> None:
    torch.manual_seed(7)
    a = build_generator("resnet_6blocks", 3, 3, ngf=16, norm="instance", init_gain=0.05)
    torch.manual_seed(7)
    b = build_generator("resnet_6blocks", 3, 3, ngf=16, norm="instance", init_gain=0.05)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    convs = [m for m in a.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(c.bias is not None and torch.count_nonzero(c.bias) == 0 for c in convs)  # instance: biases
    big = max(convs, key=lambda c: c.weight.numel())
    assert abs(big.weight.std().item() - 0.05) < 0.005
    init_weights(a, 0.02)
    assert abs(big.weight.std().item() - 0.02) < 0.002


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["unet_100", "unet_16", "resnet_0blocks", "resnet", "vgg", "unet_256x"])
def test_unknown_generator_names(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_generator(name, 3, 3, ngf=1)
    if name in {"resnet", "vgg", "unet_256x", "resnet_0blocks"}:
        message = str(err.value)
        assert all(allowed in message for allowed in GENERATOR_NAMES) and "resnet_Nblocks" in message


@pytest.mark.parametrize("name", ["patch71", "patch", "pixelgan", "patch574"])
def test_unknown_discriminator_names(name: str) -> None:
    for call in (lambda: build_discriminator(name, 6, ndf=1), lambda: receptive_field(name)):
        with pytest.raises(ConfigError) as err:
            call()
        assert all(allowed in str(err.value) for allowed in DISCRIMINATOR_NAMES)


def test_bad_options_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="image_size"):
        build_generator("unet", 3, 3, ngf=1)
    with pytest.raises(ConfigError, match="divisible by 256"):
        build_generator("unet_256", 3, 3, ngf=1, image_size=128)
    with pytest.raises(ConfigError, match="power of two"):
        build_generator("unet", 3, 3, ngf=1, image_size=96)
    with pytest.raises(ConfigError, match="instance"):
        build_generator("unet_128", 3, 3, ngf=1, norm="group")
    with pytest.raises(ConfigError, match="lua"):
        build_generator("unet_128", 3, 3, ngf=1, dropout="always")
    with pytest.raises(ConfigError, match="batch"):
        build_discriminator("patch70", 6, ndf=1, norm="layer")


# ---------------------------------------------------------------- the `ganrepro models` command

DEFAULT_EXPECTED = {
    "unet_256": 54_413_955,
    "unet_128": 41_828_995,
    "encoder_decoder_256": 39_075_459,
    "patch70": 2_768_705,
    "patch16": 139_585,
    "patch286": 11_159_361,
    "pixel": 9_024,
    "patch34": 666_433,
    "patch142": 6_964_033,
}
OUTPUT_MAPS = {"pixel": 256, "patch16": 126, "patch34": 62, "patch70": 30, "patch142": 14, "patch286": 6}


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, dict[str, object]]:
    assert main(["models", *argv, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == GENERATOR_NAMES + DISCRIMINATOR_NAMES
    for row in rows:
        assert set(row) == {"name", "kind", "params", "receptive_field", "norm", "input_nc", "output_map"}
    return {r["name"]: r for r in rows}


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    rows = {line.split()[1]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert list(rows) == GENERATOR_NAMES + DISCRIMINATOR_NAMES
    for name, params in DEFAULT_EXPECTED.items():
        assert rows[name][2] == f"{params:,}"
    for name, rf in RECEPTIVE_FIELDS.items():
        assert rows[name][0] == "discriminator"
        assert rows[name][3] == f"{rf}x{rf}"
        assert rows[name][4] == f"{OUTPUT_MAPS[name]}x{OUTPUT_MAPS[name]}"


def test_cli_json_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _run_json(capsys)
    for name, params in DEFAULT_EXPECTED.items():
        assert rows[name]["params"] == params
    for name in GENERATOR_NAMES:
        assert rows[name]["kind"] == "generator" and rows[name]["receptive_field"] is None
        assert rows[name]["input_nc"] == 3 and rows[name]["norm"] == "batch"
    for name, rf in RECEPTIVE_FIELDS.items():
        row = rows[name]
        assert row["kind"] == "discriminator" and row["receptive_field"] == rf and row["input_nc"] == 6
        assert row["output_map"] == [OUTPUT_MAPS[name]] * 2


def test_cli_json_instance_unconditional(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _run_json(capsys, "--norm", "instance", "--input-nc", "3")
    expected = {"resnet_9blocks": 11_378_179, "resnet_6blocks": 7_837_699, "patch70": 2_764_737, "unet_256": 54_409_603}
    assert {name: rows[name]["params"] for name in expected} == expected
    assert all(r["norm"] == "instance" for r in rows.values())
    assert rows["patch70"]["input_nc"] == 3


def test_cli_json_batch_unconditional(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _run_json(capsys, "--input-nc", "3")
    expected = {"patch16": 136_513, "patch70": 2_765_633, "patch286": 11_156_289}
    assert {name: rows[name]["params"] for name in expected} == expected


def test_cli_rejects_bad_input_nc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--input-nc", "0"]) == 2
    assert "input_nc" in capsys.readouterr().err


def test_command_module_does_not_import_torch() -> None:
    code = "import sys, ganrepro.commands.models; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name, min_size", [("pixel", 2), ("patch16", 6), ("patch70", 24), ("patch286", 96)])
def test_small_images_are_zero_padded_to_what_the_discriminator_can_process(name: str, min_size: int) -> None:
    """64 px into the 286×286 ImageGAN would leave nothing for batch norm; it is padded with zeros instead,
    and images at least the minimum size (every paper setting) pass through untouched."""
    import torch

    from ganrepro.models import build_discriminator

    net = build_discriminator(name, 6, ndf=8, norm="batch")
    assert net.min_input_size == min_size
    small = torch.randn(1, 6, 64, 64)
    assert net(small).shape[-1] >= 1
    big = torch.randn(1, 6, max(min_size, 64), max(min_size, 64))
    torch.manual_seed(0)
    direct = net.model(big)
    assert torch.equal(net(big), direct)
    if min_size > 64:
        padded = torch.nn.functional.pad(small, (16, 16, 16, 16))
        assert torch.equal(net(small), net.model(padded))
