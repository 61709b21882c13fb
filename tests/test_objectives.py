"""Losses, image pool, LR schedule, and the ablation switches of both objectives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_overrides

from ganrepro.config import TrainConfig, load_config
from ganrepro.loading import build_dataset
from ganrepro.losses import GANLoss, gradient_penalty
from ganrepro.training.pool import ImagePool
from ganrepro.training.schedule import LinearDecay
from ganrepro.training.trainer import build_model

ROOT = Path(__file__).resolve().parents[1]


def test_gan_loss_modes() -> None:
    pred = torch.tensor([[0.3, -1.2], [2.0, 0.0]])
    bce_real = -torch.log(torch.sigmoid(pred)).mean()
    assert GANLoss("vanilla")(pred, True).item() == pytest.approx(bce_real.item(), rel=1e-6)
    assert GANLoss("vanilla")(pred, False).item() == pytest.approx(
        -torch.log(1 - torch.sigmoid(pred)).mean().item(), rel=1e-6
    )
    assert GANLoss("lsgan")(pred, True).item() == pytest.approx(((pred - 1) ** 2).mean().item())
    assert GANLoss("lsgan")(pred, False).item() == pytest.approx((pred**2).mean().item())
    assert GANLoss("wgangp")(pred, True).item() == pytest.approx(-pred.mean().item())
    assert GANLoss("wgangp")(pred, False).item() == pytest.approx(pred.mean().item())


def test_gradient_penalty_is_exact_for_a_linear_critic() -> None:
    critic = torch.nn.Conv2d(1, 1, kernel_size=2, bias=False)  # output = sum over 2x2 windows
    with torch.no_grad():
        critic.weight.fill_(0.5)
    real, fake = torch.randn(3, 1, 3, 3), torch.randn(3, 1, 3, 3)
    # d(sum of outputs)/dx: each input pixel's weight times the number of windows covering it
    coverage = F.conv_transpose2d(torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5))
    expected = 10.0 * (coverage.norm() - 1) ** 2
    assert gradient_penalty(critic, real, fake, 10.0).item() == pytest.approx(expected.item(), rel=1e-5)


def test_image_pool_fills_then_mixes_and_round_trips() -> None:
    pool = ImagePool(2, seed=0)
    a, b = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)
    assert torch.equal(pool.query(a), a) and torch.equal(pool.query(b), b) and len(pool.images) == 2
    outs = [pool.query(torch.full((1, 1, 1, 1), float(i))).item() for i in range(2, 40)]
    assert any(o < 2 for o in outs) and any(o >= 2 for o in outs)  # sometimes history, sometimes current
    twin = ImagePool(2, seed=99)
    twin.load_state_dict(pool.state_dict(), torch.device("cpu"))
    x = torch.full((4, 1, 1, 1), 7.0)
    assert torch.equal(pool.query(x), twin.query(x))
    assert torch.equal(ImagePool(0, seed=0).query(x), x)


def test_linear_decay_timing_choices() -> None:
    end, start = LinearDecay(100, 100, 0), LinearDecay(100, 100, 1)
    assert [end(e) for e in (0, 99)] == [1.0, 1.0]
    assert end(100) == pytest.approx(1 - 1 / 101) and end(199) == pytest.approx(1 / 101)
    assert start(98) == 1.0 and start(99) == pytest.approx(1 - 1 / 101) and start(199) == 0.0
    lua = LinearDecay(100, 100, 0, lua=True)  # Lua CycleGAN: minus lr/100 after each epoch past the 100th
    assert [lua(e) for e in (0, 99, 100)] == [1.0, 1.0, 1.0]
    assert lua(101) == pytest.approx(0.99) and lua(199) == pytest.approx(0.01)
    assert LinearDecay(200, 0, 0, lua=True)(199) == 1.0
    assert TrainConfig().lr_step is None  # resolved from the config's reference when loaded


def build(root: Path, model: str, *extra: str):
    cfg = load_config(ROOT / "params" / f"{model}.yaml", [*tiny_overrides(root, model), *extra])
    return cfg, build_model(cfg, torch.device("cpu"))


@pytest.mark.parametrize(
    "extra, nets, d_channels, losses",
    [
        (["pix2pix.gan=none"], {"G"}, None, ("G_L1",)),
        (["pix2pix.gan=unconditional", "pix2pix.lambda_l1=0"], {"G", "D"}, 3, ("G_GAN", "D_real", "D_fake")),
        (["pix2pix.lambda_l1=0"], {"G", "D"}, 6, ("G_GAN", "D_real", "D_fake")),
        (["pix2pix.gan=unconditional"], {"G", "D"}, 3, ("G_GAN", "G_L1", "D_real", "D_fake")),
        ([], {"G", "D"}, 6, ("G_GAN", "G_L1", "D_real", "D_fake")),
        (["pix2pix.gan_mode=wgangp"], {"G", "D"}, 6, ("G_GAN", "G_L1", "D_real", "D_fake", "D_gp")),
    ],
)
def test_pix2pix_table1_switches(aligned_root: Path, extra, nets, d_channels, losses) -> None:
    cfg, model = build(aligned_root, "pix2pix", *extra)
    assert set(model.nets) == nets and model.loss_names == losses
    if d_channels:
        assert next(model.nets["D"].parameters()).shape[1] == d_channels
    batch = torch.utils.data.default_collate([build_dataset(cfg)[i] for i in range(2)])
    before = {k: v.clone() for k, v in model.nets["G"].state_dict().items()}
    values = model.train_step(batch)
    assert set(values) == set(losses) and all(v == v for v in values.values())
    assert any(not torch.equal(before[k], v) for k, v in model.nets["G"].state_dict().items())
    if "D_gp" in values:
        assert values["D_gp"] > 0
    assert (
        all(p.requires_grad is False for p in model.nets.get("D", torch.nn.Linear(1, 1)).parameters())
        or "D" not in nets
    )  # D is frozen after its step, until the next D step


@pytest.mark.parametrize(
    "extra, nets, losses",
    [
        (["cyclegan.use_gan=false", "cyclegan.lambda_identity=0"], {"G_A", "G_B"}, ("cycle_A", "cycle_B")),
        (
            ["cyclegan.forward_cycle=false", "cyclegan.backward_cycle=false", "cyclegan.lambda_identity=0"],
            {"G_A", "G_B", "D_A", "D_B"},
            ("G_A", "G_B", "D_A", "D_B"),
        ),
        (
            ["cyclegan.backward_cycle=false", "cyclegan.lambda_identity=0"],
            {"G_A", "G_B", "D_A", "D_B"},
            ("G_A", "G_B", "cycle_A", "D_A", "D_B"),
        ),
        (
            ["cyclegan.forward_cycle=false", "cyclegan.lambda_identity=0"],
            {"G_A", "G_B", "D_A", "D_B"},
            ("G_A", "G_B", "cycle_B", "D_A", "D_B"),
        ),
        ([], {"G_A", "G_B", "D_A", "D_B"}, ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B")),
    ],
)
def test_cyclegan_table4_switches(aligned_root: Path, extra, nets, losses) -> None:
    cfg, model = build(aligned_root, "cyclegan", *extra)
    assert set(model.nets) == nets and model.loss_names == losses
    batch = torch.utils.data.default_collate([build_dataset(cfg)[i] for i in range(2)])
    values = model.train_step(batch)
    assert set(values) == set(losses)
    if "D_A" in nets:
        assert len(model.pools["fake_B"].images) == 2  # the batch's fakes went through the pool


def test_cyclegan_loss_weights(aligned_root: Path) -> None:
    """cycle_A = λ_A·|G_B(G_A(A)) − A| and idt_A = λ_B·λ_idt·|G_A(B) − B|, checked against a recomputation."""
    cfg, model = build(
        aligned_root,
        "cyclegan",
        "cyclegan.use_gan=false",
        "cyclegan.lambda_A=3",
        "cyclegan.lambda_B=7",
        "cyclegan.lambda_identity=0.5",
    )
    batch = torch.utils.data.default_collate([build_dataset(cfg)[0]])
    g_a, g_b = model.nets["G_A"], model.nets["G_B"]
    a, b = batch["A"], batch["B"]
    with torch.no_grad():
        expected_cycle = 3 * (g_b(g_a(a)) - a).abs().mean().item()
        expected_idt = 7 * 0.5 * (g_a(b) - b).abs().mean().item()
    values = model.train_step(batch)
    assert values["cycle_A"] == pytest.approx(expected_cycle, rel=1e-5)
    assert values["idt_A"] == pytest.approx(expected_idt, rel=1e-5)


def test_aligned_jitter_is_shared_and_direction_swaps(aligned_root: Path) -> None:
    cfg = load_config(ROOT / "params" / "pix2pix.yaml", [*tiny_overrides(aligned_root), "data.direction=AtoB"])
    swapped = load_config(ROOT / "params" / "pix2pix.yaml", [*tiny_overrides(aligned_root), "data.direction=BtoA"])
    item, other = build_dataset(cfg)[0], build_dataset(swapped)[0]
    assert torch.equal(item["A"], other["B"]) and torch.equal(item["B"], other["A"])
    plain = build_dataset(cfg, augment=False)[0]
    assert plain["A"].shape == (3, 32, 32) and plain["A"].min() >= -1 and plain["A"].max() <= 1
    ds = build_dataset(cfg)
    ds.set_epoch(5)
    again = build_dataset(cfg)
    again.set_epoch(5)
    assert torch.equal(ds[1]["A"], again[1]["A"])  # a function of (seed, epoch, index)


def test_one_crop_and_flip_for_both_halves(tmp_path: Path) -> None:
    """A pair with identical halves stays identical under jitter only if A and B share the draw."""
    import numpy as np
    from PIL import Image

    half = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    (tmp_path / "train").mkdir()
    Image.fromarray(np.concatenate([half, half], axis=1)).save(tmp_path / "train" / "1.png")
    cfg = load_config(ROOT / "params" / "pix2pix.yaml", [*tiny_overrides(tmp_path), "data.load_size=48"])
    ds = build_dataset(cfg)
    crops = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        item = ds[0]
        assert torch.equal(item["A"], item["B"])
        crops.add(item["A"].sum().item())
    assert len(crops) > 1  # the jitter really varies between epochs
