"""Adversarial and reconstruction losses, in the reference code's vocabulary.

``GANLoss`` compares a discriminator's (patch) output map with an all-real or all-fake target of the same
shape, mean-reduced over every patch:

- ``vanilla``: binary cross-entropy on logits (the papers' log D objective; D has no sigmoid);
- ``lsgan``: least squares against 1 / 0 (CycleGAN);
- ``wgangp``: −mean for real, +mean for fake, and :func:`gradient_penalty` *is* added to the D loss by the
  trainers when this mode is chosen (the reference code defines the penalty but never calls it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GANLoss(nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in ("vanilla", "lsgan", "wgangp"):
            raise ValueError(f"unknown gan_mode {mode!r}")
        self.mode = mode

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if self.mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        target = torch.full_like(prediction, 1.0 if target_is_real else 0.0)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(prediction, target)
        return F.mse_loss(prediction, target)


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, weight: float) -> torch.Tensor:
    """WGAN-GP: weight · E[(‖∇D(x̂)‖₂ − 1)²] on random interpolates x̂ of real and (detached) fake inputs."""
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed)
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grads.flatten(1).norm(2, dim=1)
    return weight * ((norms - 1.0) ** 2).mean()


def l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error: pix2pix's L1 term and CycleGAN's cycle/identity terms."""
    return (prediction - target).abs().mean()
