"""pix2pix (Isola et al., 2017): G(A) -> B with an (optionally conditional) PatchGAN and an L1 term.

One iteration = one D step on (real, fake.detach()), then one G step with D frozen.  ``pix2pix.gan = none``
builds no discriminator at all (the paper's "L1" row); ``unconditional`` gives D only the output image
(3 channels); ``conditional`` gives it cat(A, output) (6 channels).

The config's ``reference`` (:mod:`ganrepro.fidelity`) chooses between the port's step (D loss halved, the G step
runs the updated D again) and the Lua step behind the published tables: convolution biases zeroed before each
update, D's gradient taken of D_real + D_fake, and the G step reusing D's output on the fake from the D step,
back-propagated with D's updated weights (:mod:`ganrepro.training.lua_backward`).
"""

from __future__ import annotations

import torch

from ganrepro.config import Config
from ganrepro.fidelity import Fidelity
from ganrepro.losses import GANLoss, gradient_penalty
from ganrepro.models import zero_conv_biases
from ganrepro.training.base import GANModel
from ganrepro.training.lua_backward import DiscriminatorTape
from ganrepro.training.networks import build_config_discriminator, build_generators


def discriminator_losses(
    d: torch.nn.Module,
    gan_loss: torch.nn.Module,
    real_in: torch.Tensor,
    fake_in: torch.Tensor,
    tape: DiscriminatorTape | None,
    losses: dict[str, torch.Tensor],
    halved_gradient: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """D_real and D_fake into ``losses``; returns (D's output on the fake pair, the logged D loss ½(real + fake),
    the loss whose gradient D's step takes: the same under the port, real + fake under the Lua code).

    With a tape (the Lua step) the order is the Lua code's, real then fake, and the fake pass is recorded for
    the G step; otherwise the port's, fake then real.  (Shared by the solo and the packed models.)
    """
    if tape is not None:
        losses["D_real"] = gan_loss(d(real_in), True)
        tape.recording = True
        pred_fake = d(fake_in)
        tape.recording = False
        losses["D_fake"] = gan_loss(pred_fake, False)
    else:
        pred_fake = d(fake_in)
        losses["D_fake"] = gan_loss(pred_fake, False)
        losses["D_real"] = gan_loss(d(real_in), True)
    loss_d = 0.5 * (losses["D_fake"] + losses["D_real"])
    return pred_fake, loss_d, loss_d if halved_gradient else losses["D_fake"] + losses["D_real"]


class Pix2PixModel(GANModel):
    forward_net = "G"

    def __init__(self, config: Config, device: torch.device) -> None:
        super().__init__(config, device)
        data, obj = config.data, config.pix2pix
        self.fidelity = Fidelity.of(config)
        self.use_d = obj.gan != "none"
        self.conditional = obj.gan == "conditional"
        self.lambda_l1: float | torch.Tensor = obj.lambda_l1  # a pack: one weight per member
        self.l1_on = obj.lambda_l1 > 0
        self.nets.update(build_generators(config, device))
        self._adam("G", self.nets["G"].parameters())
        names = ["G_L1"] if obj.lambda_l1 > 0 else []
        self.tape: DiscriminatorTape | None = None
        if self.use_d:
            d_channels = data.input_nc + data.output_nc if self.conditional else data.output_nc
            self.nets["D"] = build_config_discriminator(config, d_channels, device)
            self._adam("D", self.nets["D"].parameters())
            self.gan_loss = GANLoss(obj.gan_mode)
            names = ["G_GAN", *names, "D_real", "D_fake"] + (["D_gp"] if obj.gan_mode == "wgangp" else [])
            if self.fidelity.reuse_d_output:
                self.tape = DiscriminatorTape(self.nets["D"])
        self.loss_names = tuple(names)

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self._channel_cat(a, b) if self.conditional else b

    def _zero_biases(self) -> None:
        if self.fidelity.zero_conv_biases:
            zero_conv_biases(*self.nets.values())

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real_a, real_b = self.to_batch(batch)
        fake_b = self.nets["G"](real_a)
        losses: dict[str, torch.Tensor] = {}
        pred_fake = self._update_d(real_a, real_b, fake_b, losses) if self.use_d else None
        self._update_g(real_a, real_b, fake_b, pred_fake, losses)
        return {name: losses[name].detach() for name in self.loss_names}

    def _update_d(
        self, real_a: torch.Tensor, real_b: torch.Tensor, fake_b: torch.Tensor, losses: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """One D step; returns D's output on the fake pair (what the Lua G step reuses)."""
        obj, d = self.config.pix2pix, self.nets["D"]
        self._zero_biases()
        self.set_requires_grad([d], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        fake_in = self._d_input(real_a, fake_b.detach())
        real_in = self._d_input(real_a, real_b)
        pred_fake, loss_d, gradient_of = discriminator_losses(
            d, self.gan_loss, real_in, fake_in, self.tape, losses, self.fidelity.d_loss_halved_gradient
        )
        if obj.gan_mode == "wgangp":
            losses["D_gp"] = gradient_penalty(d, real_in, fake_in, obj.gp_weight)
            loss_d, gradient_of = loss_d + losses["D_gp"], gradient_of + losses["D_gp"]
        self._total(gradient_of).backward()
        self.optimizers["D"].step()
        self.set_requires_grad([d], False)
        return pred_fake.detach()

    def _update_g(
        self,
        real_a: torch.Tensor,
        real_b: torch.Tensor,
        fake_b: torch.Tensor,
        pred_fake: torch.Tensor | None,
        losses: dict[str, torch.Tensor],
    ) -> None:
        self._zero_biases()
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_g = self._zeros()
        if self.use_d and self.tape is not None and pred_fake is not None:
            # Lua: d(-log D)/d(output) of the D step's output, then back through D's updated weights.
            prediction = pred_fake.requires_grad_(True)
            losses["G_GAN"] = self.gan_loss(prediction, True)
            (grad_prediction,) = torch.autograd.grad(self._total(losses["G_GAN"]), prediction)
            grad_input = self.tape.input_grad(grad_prediction)
            channels = self.config.data.output_nc
            grad_fake = self._last_channels(grad_input, channels) if self.conditional else grad_input
            surrogate = self._run_sum(fake_b * grad_fake)  # its gradient with respect to fake_b is grad_fake
            loss_g = loss_g + surrogate - surrogate.detach() + losses["G_GAN"].detach()
        elif self.use_d:
            losses["G_GAN"] = self.gan_loss(self.nets["D"](self._d_input(real_a, fake_b)), True)
            loss_g = loss_g + losses["G_GAN"]
        if self.l1_on:
            losses["G_L1"] = self._l1(fake_b, real_b) * self.lambda_l1
            loss_g = loss_g + losses["G_L1"]
        self._total(loss_g).backward()
        self.optimizers["G"].step()

    @torch.no_grad()
    def sample_row(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_a, real_b = self.to_batch(batch)
        return [real_a, self.nets["G"](real_a), real_b]
