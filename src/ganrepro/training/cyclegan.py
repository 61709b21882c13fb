"""CycleGAN (Zhu et al., 2017): G_A: A -> B, G_B: B -> A; D_A judges domain B, D_B judges domain A.

One iteration = one G step over both generators (one Adam), D frozen; then both D steps on pooled fakes,
each D loss halved.  Switches (CycleGAN Table 4): ``use_gan`` off = "cycle alone" (no D is built),
``forward_cycle`` = the A -> B -> A term (λ_A), ``backward_cycle`` = the B -> A -> B term (λ_B); the identity
terms are |G_A(B) − B|·λ_B·λ_idt and |G_B(A) − A|·λ_A·λ_idt.
"""

from __future__ import annotations

import itertools

import torch

from ganrepro.config import Config
from ganrepro.losses import GANLoss, gradient_penalty, l1
from ganrepro.models import build_discriminator, build_generator
from ganrepro.training.base import GANModel
from ganrepro.training.pool import ImagePool


class CycleGANModel(GANModel):
    forward_net = "G_A"

    def __init__(self, config: Config, device: torch.device) -> None:
        super().__init__(config, device)
        net, data, obj = config.network, config.data, config.cyclegan

        def generator(inp: int, out: int) -> torch.nn.Module:
            return build_generator(net.generator, inp, out, ngf=net.ngf, norm=net.norm, dropout=net.dropout,
                                   image_size=data.crop_size, init_gain=net.init_gain).to(device)

        self.nets["G_A"] = generator(data.input_nc, data.output_nc)
        self.nets["G_B"] = generator(data.output_nc, data.input_nc)
        self._adam("G", itertools.chain(self.nets["G_A"].parameters(), self.nets["G_B"].parameters()))
        names = []
        if obj.use_gan:
            for d_name, channels in (("D_A", data.output_nc), ("D_B", data.input_nc)):
                self.nets[d_name] = build_discriminator(net.discriminator, channels, ndf=net.ndf, norm=net.norm,
                                                        init_gain=net.init_gain).to(device)
            self._adam("D", itertools.chain(self.nets["D_A"].parameters(), self.nets["D_B"].parameters()))
            self.gan_loss = GANLoss(obj.gan_mode)
            # Each pool gets its own stream, derived from the run seed.
            self.pools["fake_B"] = ImagePool(obj.pool_size, seed=config.seed * 2 + 1)
            self.pools["fake_A"] = ImagePool(obj.pool_size, seed=config.seed * 2 + 2)
            names += ["G_A", "G_B"]
        names += ["cycle_A"] if obj.forward_cycle else []
        names += ["cycle_B"] if obj.backward_cycle else []
        names += ["idt_A", "idt_B"] if obj.lambda_identity > 0 else []
        names += ["D_A", "D_B"] if obj.use_gan else []
        self.loss_names = tuple(names)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        obj = self.config.cyclegan
        g_a, g_b = self.nets["G_A"], self.nets["G_B"]
        real_a, real_b = self.to_batch(batch)
        fake_b, fake_a = g_a(real_a), g_b(real_b)
        losses: dict[str, torch.Tensor] = {}

        discriminators = [self.nets["D_A"], self.nets["D_B"]] if obj.use_gan else []
        self.set_requires_grad(discriminators, False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        if obj.use_gan:
            losses["G_A"] = self.gan_loss(self.nets["D_A"](fake_b), True)
            losses["G_B"] = self.gan_loss(self.nets["D_B"](fake_a), True)
        if obj.forward_cycle:
            losses["cycle_A"] = l1(g_b(fake_b), real_a) * obj.lambda_A
        if obj.backward_cycle:
            losses["cycle_B"] = l1(g_a(fake_a), real_b) * obj.lambda_B
        if obj.lambda_identity > 0:
            losses["idt_A"] = l1(g_a(real_b), real_b) * obj.lambda_B * obj.lambda_identity
            losses["idt_B"] = l1(g_b(real_a), real_a) * obj.lambda_A * obj.lambda_identity
        loss_g = sum(losses.values(), torch.zeros((), device=self.device))
        loss_g.backward()
        self.optimizers["G"].step()

        if obj.use_gan:
            self.set_requires_grad(discriminators, True)
            self.optimizers["D"].zero_grad(set_to_none=True)
            d_losses = {
                "D_A": self._d_loss(self.nets["D_A"], real_b, self.pools["fake_B"].query(fake_b)),
                "D_B": self._d_loss(self.nets["D_B"], real_a, self.pools["fake_A"].query(fake_a)),
            }
            (d_losses["D_A"] + d_losses["D_B"]).backward()
            self.optimizers["D"].step()
            losses.update(d_losses)
        return {name: losses[name].detach() for name in self.loss_names}

    def _d_loss(self, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        fake = fake.detach()
        loss = 0.5 * (self.gan_loss(d(real), True) + self.gan_loss(d(fake), False))
        if self.config.cyclegan.gan_mode == "wgangp":
            loss = loss + gradient_penalty(d, real, fake, self.config.cyclegan.gp_weight)
        return loss

    @torch.no_grad()
    def sample_row(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_a, real_b = self.to_batch(batch)
        fake_b, fake_a = self.nets["G_A"](real_a), self.nets["G_B"](real_b)
        return [real_a, fake_b, self.nets["G_B"](fake_b), real_b, fake_a, self.nets["G_A"](fake_a)]
