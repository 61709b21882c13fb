"""pix2pix (Isola et al., 2017): G(A) -> B with an (optionally conditional) PatchGAN and an L1 term.

One iteration = one D step on (real, fake.detach()) with the loss halved, then one G step with D frozen.
``pix2pix.gan = none`` builds no discriminator at all (the paper's "L1" row); ``unconditional`` gives D only
the output image (3 channels); ``conditional`` gives it cat(A, output) (6 channels).
"""

from __future__ import annotations

import torch

from ganrepro.config import Config
from ganrepro.losses import GANLoss, gradient_penalty, l1
from ganrepro.models import build_discriminator, build_generator
from ganrepro.training.base import GANModel


class Pix2PixModel(GANModel):
    forward_net = "G"

    def __init__(self, config: Config, device: torch.device) -> None:
        super().__init__(config, device)
        net, data, obj = config.network, config.data, config.pix2pix
        self.use_d = obj.gan != "none"
        self.conditional = obj.gan == "conditional"
        self.nets["G"] = build_generator(net.generator, data.input_nc, data.output_nc, ngf=net.ngf,
                                         norm=net.norm, dropout=net.dropout, image_size=data.crop_size,
                                         init_gain=net.init_gain).to(device)
        self._adam("G", self.nets["G"].parameters())
        names = ["G_L1"] if obj.lambda_l1 > 0 else []
        if self.use_d:
            d_channels = data.input_nc + data.output_nc if self.conditional else data.output_nc
            self.nets["D"] = build_discriminator(net.discriminator, d_channels, ndf=net.ndf, norm=net.norm,
                                                 init_gain=net.init_gain).to(device)
            self._adam("D", self.nets["D"].parameters())
            self.gan_loss = GANLoss(obj.gan_mode)
            names = ["G_GAN", *names, "D_real", "D_fake"] + (["D_gp"] if obj.gan_mode == "wgangp" else [])
        self.loss_names = tuple(names)

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], 1) if self.conditional else b

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        obj = self.config.pix2pix
        real_a, real_b = self.to_batch(batch)
        fake_b = self.nets["G"](real_a)
        losses: dict[str, torch.Tensor] = {}

        if self.use_d:
            d = self.nets["D"]
            self.set_requires_grad([d], True)
            self.optimizers["D"].zero_grad(set_to_none=True)
            fake_in = self._d_input(real_a, fake_b.detach())
            real_in = self._d_input(real_a, real_b)
            losses["D_fake"] = self.gan_loss(d(fake_in), False)
            losses["D_real"] = self.gan_loss(d(real_in), True)
            loss_d = 0.5 * (losses["D_fake"] + losses["D_real"])
            if obj.gan_mode == "wgangp":
                losses["D_gp"] = gradient_penalty(d, real_in, fake_in, obj.gp_weight)
                loss_d = loss_d + losses["D_gp"]
            loss_d.backward()
            self.optimizers["D"].step()
            self.set_requires_grad([d], False)

        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_g = torch.zeros((), device=self.device)
        if self.use_d:
            losses["G_GAN"] = self.gan_loss(self.nets["D"](self._d_input(real_a, fake_b)), True)
            loss_g = loss_g + losses["G_GAN"]
        if obj.lambda_l1 > 0:
            losses["G_L1"] = l1(fake_b, real_b) * obj.lambda_l1
            loss_g = loss_g + losses["G_L1"]
        loss_g.backward()
        self.optimizers["G"].step()
        return {name: losses[name].detach() for name in self.loss_names}

    @torch.no_grad()
    def sample_row(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_a, real_b = self.to_batch(batch)
        return [real_a, self.nets["G"](real_a), real_b]
