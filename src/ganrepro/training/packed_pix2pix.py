"""pix2pix's update rule (:mod:`ganrepro.training.pix2pix`) on a pack: the same steps, one loss per member.

The order of every forward pass, the D step followed by the G step, the ``reference`` switches (bias zeroing, the
Lua G step's reuse of D's output through :class:`~ganrepro.training.lua_backward.DiscriminatorTape`, D's gradient
scale) are those of :class:`~ganrepro.training.pix2pix.Pix2PixModel`, whose attributes (``fidelity``,
``use_d``, ``conditional``) decide them here too.  Only the reductions change: each loss is a vector over the
members, each member's L1 term is weighted by its own λ, and the conditional D sees each member's (A, output)
pair side by side.  A member with λ = 0 gets an L1 term of weight 0, i.e. exactly no gradient, as its solo run
does by not computing the term.
"""

from __future__ import annotations

import torch

from ganrepro.models import zero_conv_biases
from ganrepro.models.grouped import member_cat, member_slice
from ganrepro.training.lua_backward import DiscriminatorTape
from ganrepro.training.packed import MemberGANLoss, PackedModel, member_l1, member_sum
from ganrepro.training.pix2pix import Pix2PixModel, discriminator_losses


class PackedPix2PixModel(PackedModel):
    def __init__(self, members: list[Pix2PixModel], labels: list[str]) -> None:
        super().__init__(members, labels)  # type: ignore[arg-type]
        template = members[0]
        self.fidelity, self.use_d, self.conditional = template.fidelity, template.use_d, template.conditional
        self.lambda_l1 = self.vector([m.config.pix2pix.lambda_l1 for m in members])
        self.any_l1 = any(m.config.pix2pix.lambda_l1 > 0 for m in members)
        self.tape: DiscriminatorTape | None = None
        if self.use_d:
            self.gan_loss = MemberGANLoss(self.config.pix2pix.gan_mode, self.n)
            if template.tape is not None:
                self.tape = DiscriminatorTape(self.nets["D"])

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return member_cat(a, b, self.n) if self.conditional else b

    def _zero_biases(self) -> None:
        if self.fidelity.zero_conv_biases:
            zero_conv_biases(*self.nets.values())

    def train_step(self, batches: list[dict[str, torch.Tensor]]) -> list[dict[str, float]]:  # type: ignore[override]
        real_a, real_b = self.pack_batch(batches)
        fake_b = self.nets["G"](real_a)
        losses: dict[str, torch.Tensor] = {}
        pred_fake = self._update_d(real_a, real_b, fake_b, losses) if self.use_d else None
        self._update_g(real_a, real_b, fake_b, pred_fake, losses)
        return self.report(losses)

    def _update_d(self, real_a: torch.Tensor, real_b: torch.Tensor, fake_b: torch.Tensor,
                  losses: dict[str, torch.Tensor]) -> torch.Tensor:
        d = self.nets["D"]
        self._zero_biases()
        self.set_requires_grad([d], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        fake_in = self._d_input(real_a, fake_b.detach())
        real_in = self._d_input(real_a, real_b)
        pred_fake, loss_d, gradient_of = discriminator_losses(d, self.gan_loss, real_in, fake_in, self.tape, losses,
                                                              self.fidelity.d_loss_halved_gradient)
        self.check_finite({"D": loss_d}, "the discriminator step")
        gradient_of.sum().backward()
        self.optimizers["D"].step()
        self.set_requires_grad([d], False)
        return pred_fake.detach()

    def _update_g(self, real_a: torch.Tensor, real_b: torch.Tensor, fake_b: torch.Tensor,
                  pred_fake: torch.Tensor | None, losses: dict[str, torch.Tensor]) -> None:
        self._zero_biases()
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_g = torch.zeros(self.n, device=self.device)
        if self.use_d and self.tape is not None and pred_fake is not None:
            prediction = pred_fake.requires_grad_(True)
            losses["G_GAN"] = self.gan_loss(prediction, True)
            (grad_prediction,) = torch.autograd.grad(losses["G_GAN"].sum(), prediction)
            grad_input = self.tape.input_grad(grad_prediction)
            channels = self.config.data.output_nc
            grad_fake = member_slice(grad_input, self.n, -channels) if self.conditional else grad_input
            surrogate = member_sum(fake_b * grad_fake, self.n)  # d/d(fake_b) of member m's entry: its grad_fake
            loss_g = loss_g + surrogate - surrogate.detach() + losses["G_GAN"].detach()
        elif self.use_d:
            losses["G_GAN"] = self.gan_loss(self.nets["D"](self._d_input(real_a, fake_b)), True)
            loss_g = loss_g + losses["G_GAN"]
        if self.any_l1:
            losses["G_L1"] = member_l1(fake_b, real_b, self.n) * self.lambda_l1
            loss_g = loss_g + losses["G_L1"]
        self.check_finite({"G": loss_g}, "the generator step")
        loss_g.sum().backward()
        self.optimizers["G"].step()
