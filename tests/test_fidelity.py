"""The `reference: lua | pytorch` switch: each setting it covers differs where docs/fidelity.md says, and only there."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_overrides
from PIL import Image

from ganrepro.config import load_config
from ganrepro.fidelity import Fidelity
from ganrepro.images import to_uint8
from ganrepro.loading.jitter import ImageTransform, item_rng
from ganrepro.loading.resize import lua_scale
from ganrepro.models import build_discriminator
from ganrepro.training.lua_backward import DiscriminatorTape
from ganrepro.training.trainer import build_model

ROOT = Path(__file__).resolve().parents[1]


def model_for(root: Path, model: str, reference: str, *extra: str):
    config = load_config(
        ROOT / "params" / f"{model}.yaml", [*tiny_overrides(root, model), f"reference={reference}", *extra]
    )
    torch.manual_seed(0)
    return config, build_model(config, torch.device("cpu"))


def batch_of(root: Path, config) -> dict:
    from ganrepro.loading import build_dataset

    dataset = build_dataset(config, "train", augment=True)
    return torch.utils.data.default_collate([dataset[0]])


# ------------------------------------------------------------------------------------------------ schedule


@pytest.mark.parametrize(
    "model, reference, expected",
    [
        ("pix2pix", "lua", (200, 0, "lua")),
        ("pix2pix", "pytorch", (100, 100, "epoch_end")),
        ("cyclegan", "lua", (100, 100, "lua")),
        ("cyclegan", "pytorch", (100, 100, "epoch_end")),
    ],
)
def test_model_files_take_the_schedule_of_their_reference(model: str, reference: str, expected: tuple) -> None:
    t = load_config(ROOT / "params" / f"{model}.yaml", [f"reference={reference}"]).train
    assert (t.n_epochs, t.n_epochs_decay, t.lr_step) == expected
    assert load_config(ROOT / "params" / f"{model}.yaml").reference == "lua"  # the code behind the tables
    explicit = load_config(
        ROOT / "params" / f"{model}.yaml",
        [f"reference={reference}", "train.n_epochs=3", "train.n_epochs_decay=2", "train.lr_step=epoch_start"],
    )
    assert (explicit.train.n_epochs, explicit.train.n_epochs_decay, explicit.train.lr_step) == (3, 2, "epoch_start")


def test_everything_but_the_listed_behaviours_is_shared() -> None:
    lua = Fidelity.of(load_config(ROOT / "params" / "pix2pix.yaml"))
    port = Fidelity.of(load_config(ROOT / "params" / "pix2pix.yaml", ["reference=pytorch"]))
    differing = {f.name for f in dataclasses.fields(Fidelity) if getattr(lua, f.name) != getattr(port, f.name)}
    assert differing == {
        "reference",
        "resize",
        "crop_min",
        "zero_conv_biases",
        "reuse_d_output",
        "d_loss_halved_gradient",
    }
    cyc = Fidelity.of(load_config(ROOT / "params" / "cyclegan.yaml"))
    assert cyc.alternating_updates and cyc.affine_instance_norm and not cyc.reuse_d_output
    assert lua.quantise == port.quantise == "truncate"  # both reference codes truncate saved test images


# ------------------------------------------------------------------------------------------ resize and crop


def test_lua_scale_aligns_corners_when_enlarging_and_averages_when_shrinking() -> None:
    row = np.array([[0.0, 1.0]], dtype=np.float32)
    assert np.allclose(lua_scale(row[:, :, None].repeat(2, 0), 3)[0, :, 0], [0.0, 0.5, 1.0])
    ramp = np.arange(4, dtype=np.float32).reshape(1, 4, 1).repeat(4, 0)
    assert np.allclose(lua_scale(ramp, 2)[0, :, 0], [0.5, 2.5])
    image = np.random.default_rng(0).random((5, 7, 3), dtype=np.float32)
    assert np.array_equal(lua_scale(image, 5)[:, :, 0].shape, (5, 5))
    width_first = lua_scale(image, 9)
    assert np.allclose(width_first[0, 0], image[0, 0]) and np.allclose(width_first[-1, -1], image[-1, -1])


def test_resize_differs_by_reference_and_the_unscaled_path_agrees(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    lua, port = ImageTransform(36, 32, True, "lua_bilinear", 1), ImageTransform(36, 32, True)
    # evaluation (no jitter): one resize for every reference, so all rows see the same real images
    assert torch.equal(lua(image, None), port(image, None))
    assert torch.equal(
        ImageTransform(36, 24, True, "lua_bilinear", 1)(image, None), ImageTransform(36, 24, True)(image, None)
    )
    jitter = lua.draw(item_rng(0, 0, 0))
    assert lua(image, jitter).shape == port(image, jitter).shape == (3, 32, 32)
    assert not torch.allclose(lua(image, jitter), port(image, jitter), atol=1e-3)  # bilinear float vs bicubic uint8


def test_crop_offsets_lua_draws_one_to_span_the_port_zero_to_span() -> None:
    lua, port = ImageTransform(286, 256, True, "lua_bilinear", 1), ImageTransform(286, 256, True)
    lua_x = {lua.draw(item_rng(0, 0, i)).crop_x for i in range(2000)}
    port_x = {port.draw(item_rng(0, 0, i)).crop_x for i in range(2000)}
    assert lua_x == set(range(1, 31)) and port_x == set(range(0, 31))
    assert ImageTransform(32, 32, True, "lua_bilinear", 1).draw(item_rng(0, 0, 0)).crop_x == 0  # nothing to crop


# ------------------------------------------------------------------------------------------- the updates


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
@pytest.mark.parametrize("reference", ["lua", "pytorch"])
def test_conv_biases_are_zero_when_each_update_starts_only_under_lua(
    aligned_root: Path, model: str, reference: str
) -> None:
    config, gan = model_for(aligned_root, model, reference, "network.norm=none")
    seen: list[float] = []

    def record(module, args) -> None:
        seen.append(
            max(
                float(m.bias.detach().abs().max())
                for m in module.modules()
                if isinstance(m, torch.nn.Conv2d) and m.bias is not None
            )
        )

    for name in [n for n in gan.nets if n.startswith("D")]:
        gan.nets[name].register_forward_pre_hook(record)
    batch = batch_of(aligned_root, config)
    for _ in range(2):
        gan.train_step(batch)
    assert seen
    assert (max(seen) == 0.0) == (reference == "lua")


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("name, size", [("patch70", 32), ("patch16", 32), ("pixel", 8)])
def test_tape_input_gradient_equals_autograd_with_unchanged_weights(norm: str, name: str, size: int) -> None:
    torch.manual_seed(0)
    d = build_discriminator(name, 6, ndf=4, norm=norm)
    tape = DiscriminatorTape(d)
    x = torch.randn(2, 6, size, size, requires_grad=True)
    tape.recording = True
    out = d(x)
    tape.recording = False
    grad_out = torch.randn_like(out)
    (expected,) = torch.autograd.grad(out, x, grad_out)
    assert torch.allclose(tape.input_grad(grad_out), expected, atol=1e-5, rtol=1e-4)


def test_tape_uses_the_updated_weights_with_the_recorded_activations() -> None:
    torch.manual_seed(0)
    d = build_discriminator("patch16", 3, ndf=4, norm="none")
    tape = DiscriminatorTape(d)
    x = torch.randn(1, 3, 32, 32)
    tape.recording = True
    d(x)
    tape.recording = False
    last = d.model[-1]
    with torch.no_grad():
        last.weight.mul_(3.0)  # changes no activation before the last layer, so autograd on the new D agrees
    probe = x.clone().requires_grad_(True)
    out = d(probe)
    grad_out = torch.randn_like(out)
    (expected,) = torch.autograd.grad(out, probe, grad_out)
    assert torch.allclose(tape.input_grad(grad_out), expected, atol=1e-5, rtol=1e-4)


def test_lua_discriminator_gradient_is_of_the_unhalved_sum(aligned_root: Path) -> None:
    grads = {}
    for halved in (True, False):
        config, gan = model_for(aligned_root, "pix2pix", "lua")
        gan.fidelity = dataclasses.replace(gan.fidelity, d_loss_halved_gradient=halved)
        gan.optimizers["D"].step = lambda: None  # keep the gradient, not the update
        batch = batch_of(aligned_root, config)
        real_a, real_b = gan.to_batch(batch)
        losses: dict = {}
        gan._update_d(real_a, real_b, gan.nets["G"](real_a), losses)
        grads[halved] = [p.grad.clone() for p in gan.nets["D"].parameters()]
    assert all(torch.allclose(2 * h, s, atol=1e-7) for h, s in zip(grads[True], grads[False]))


def test_cyclegan_lua_has_four_optimisers_affine_norm_and_updates_g_a_before_g_b(aligned_root: Path) -> None:
    config, gan = model_for(aligned_root, "cyclegan", "lua")
    assert set(gan.optimizers) == {"G_A", "D_A", "G_B", "D_B"}
    assert all(m.affine for net in gan.nets.values() for m in net.modules() if isinstance(m, torch.nn.InstanceNorm2d))
    _, port = model_for(aligned_root, "cyclegan", "pytorch")
    assert set(port.optimizers) == {"G", "D"}
    assert not any(
        m.affine for net in port.nets.values() for m in net.modules() if isinstance(m, torch.nn.InstanceNorm2d)
    )
    before_b = [p.detach().clone() for p in gan.nets["G_B"].parameters()]
    after_a: list[torch.Tensor] = []
    seen_b: list[torch.Tensor] = []

    def at_d_a(module, args) -> None:  # D_A's update runs after G_A's and before G_B's
        if not after_a:
            after_a.extend(p.detach().clone() for p in gan.nets["G_A"].parameters())
            seen_b.extend(p.detach().clone() for p in gan.nets["G_B"].parameters())

    gan.nets["D_A"].register_forward_pre_hook(at_d_a)
    gan.train_step(batch_of(aligned_root, config))
    weights_b = [(s, b) for s, b, p in zip(seen_b, before_b, gan.nets["G_B"].parameters()) if p.dim() > 1]
    assert all(torch.equal(s, b) for s, b in weights_b)  # G_B's weights untouched while G_A and D_A update
    assert any(not torch.equal(s, p) for s, p in zip(seen_b, gan.nets["G_B"].parameters()))  # then G_B's turn


# ------------------------------------------------------------------------------------------ test images


def test_generated_images_are_truncated_targets_stay_exact() -> None:
    value = torch.tensor([[[-1.0, 0.999, -0.003, 1.0]]])  # 0, 254.87, 127.12, 255
    assert to_uint8(value, "truncate")[:, :, 0].tolist() == [[0, 254, 127, 255]]
    assert to_uint8(value)[:, :, 0].tolist() == [[0, 255, 127, 255]]
    exact = torch.arange(256, dtype=torch.float32).view(1, 1, -1) / 127.5 - 1.0
    assert to_uint8(exact)[0, :, 0].tolist() == list(range(256))
