"""CycleGAN (Zhu et al., 2017): G_A: A -> B, G_B: B -> A; D_A judges domain B, D_B judges domain A.

Switches (CycleGAN Table 4): ``use_gan`` off = "cycle alone" (no D is built), ``forward_cycle`` = the
A -> B -> A term (λ_A), ``backward_cycle`` = the B -> A -> B term (λ_B); the identity terms are
|G_A(B) − B|·λ_B·λ_idt and |G_B(A) − A|·λ_A·λ_idt.  Each D loss is ½·[GAN(D(real), 1) + GAN(D(pooled fake), 0)].

How an iteration is split into updates follows the config's ``reference`` (:mod:`ganrepro.fidelity`):

- ``pytorch`` (the port): one G step over both generators with one Adam, D frozen; then both D steps with one
  Adam, each D loss halved.
- ``lua`` (junyanz/CycleGAN, models/cycle_gan_model.lua): four updates in turn, one Adam each: G_A, D_A, G_B,
  D_B.  G_A's step takes every term in which G_A appears (its identity and GAN terms, the A -> B -> A cycle
  through G_B, and G_A's half of the B -> A -> B cycle) and changes only G_A; G_B's step, after G_A's update,
  does the same for G_B.  Convolution biases are zeroed before each update, D's gradient is of the unhalved sum,
  and instance norm is affine.
"""

from __future__ import annotations

import itertools

import torch

from ganrepro.config import Config, CycleGANObjective
from ganrepro.fidelity import Fidelity
from ganrepro.losses import GANLoss, gradient_penalty
from ganrepro.models import zero_conv_biases
from ganrepro.training.base import GANModel
from ganrepro.training.networks import build_config_discriminator, build_generators
from ganrepro.training.pool import ImagePool


class CycleGANModel(GANModel):
    forward_net = "G_A"

    def __init__(self, config: Config, device: torch.device) -> None:
        super().__init__(config, device)
        data, obj = config.data, config.cyclegan
        self.fidelity = Fidelity.of(config)

        self.nets.update(build_generators(config, device))
        alternating = self.fidelity.alternating_updates
        if alternating:
            self._adam("G_A", self.nets["G_A"].parameters())
            self._adam("G_B", self.nets["G_B"].parameters())
        else:
            self._adam("G", itertools.chain(self.nets["G_A"].parameters(), self.nets["G_B"].parameters()))
        self._weights(obj.use_gan, [obj])
        names = []
        if obj.use_gan:
            for d_name, channels in (("D_A", data.output_nc), ("D_B", data.input_nc)):
                self.nets[d_name] = build_config_discriminator(config, channels, device)
            if alternating:
                self._adam("D_A", self.nets["D_A"].parameters())
                self._adam("D_B", self.nets["D_B"].parameters())
            else:
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

    def _weights(self, use_gan: bool, objectives: list[CycleGANObjective]) -> None:
        """The loss weights and switches the steps read: floats and booleans for a run; for a pack
        (``objectives`` of every member) one weight per member, and a term on when any member has it."""

        def weight(values: list[float]) -> float | torch.Tensor:
            return values[0] if len(values) == 1 else torch.tensor(values, dtype=torch.float32, device=self.device)

        self.use_gan = use_gan
        self.lambda_a = weight([o.lambda_A for o in objectives])
        self.lambda_b = weight([o.lambda_B for o in objectives])
        self.lambda_idt = weight([o.lambda_identity for o in objectives])
        # each side's own cycle term: λ of that side where the member has the term, else 0
        self.cycle_weight = {
            "A": weight([o.lambda_A * o.forward_cycle for o in objectives]),
            "B": weight([o.lambda_B * o.backward_cycle for o in objectives]),
        }
        self.cycle_on = {"A": any(o.forward_cycle for o in objectives), "B": any(o.backward_cycle for o in objectives)}
        self.identity_on = any(o.lambda_identity > 0 for o in objectives)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real_a, real_b = self.to_batch(batch)
        losses: dict[str, torch.Tensor] = {}
        if self.fidelity.alternating_updates:
            self._alternating_step(real_a, real_b, losses)
        else:
            self._joint_step(real_a, real_b, losses)
        return {name: losses[name].detach() for name in self.loss_names}

    # ------------------------------------------------------------------ the port: joint G step, joint D step
    def _joint_step(self, real_a: torch.Tensor, real_b: torch.Tensor, losses: dict[str, torch.Tensor]) -> None:
        g_a, g_b = self.nets["G_A"], self.nets["G_B"]
        fake_b, fake_a = g_a(real_a), g_b(real_b)

        discriminators = [self.nets["D_A"], self.nets["D_B"]] if self.use_gan else []
        self.set_requires_grad(discriminators, False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        if self.use_gan:
            losses["G_A"] = self.gan_loss(self.nets["D_A"](fake_b), True)
            losses["G_B"] = self.gan_loss(self.nets["D_B"](fake_a), True)
        if self.cycle_on["A"]:
            losses["cycle_A"] = self._l1(g_b(fake_b), real_a) * self.cycle_weight["A"]
        if self.cycle_on["B"]:
            losses["cycle_B"] = self._l1(g_a(fake_a), real_b) * self.cycle_weight["B"]
        if self.identity_on:
            losses["idt_A"] = self._l1(g_a(real_b), real_b) * self.lambda_b * self.lambda_idt
            losses["idt_B"] = self._l1(g_b(real_a), real_a) * self.lambda_a * self.lambda_idt
        loss_g = sum(losses.values(), self._zeros())
        self._total(loss_g).backward()
        self.optimizers["G"].step()

        if self.use_gan:
            self.set_requires_grad(discriminators, True)
            self.optimizers["D"].zero_grad(set_to_none=True)
            d_losses = {
                "D_A": self._d_loss(self.nets["D_A"], real_b, self._pooled("fake_B", fake_b)),
                "D_B": self._d_loss(self.nets["D_B"], real_a, self._pooled("fake_A", fake_a)),
            }
            self._total(d_losses["D_A"] + d_losses["D_B"]).backward()
            self.optimizers["D"].step()
            losses.update(d_losses)

    def _d_loss(self, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        fake = fake.detach()
        loss = 0.5 * (self.gan_loss(d(real), True) + self.gan_loss(d(fake), False))
        if self.config.cyclegan.gan_mode == "wgangp":
            loss = loss + gradient_penalty(d, real, fake, self.config.cyclegan.gp_weight)
        return loss

    # ------------------------------------------------------------------ Lua: G_A, D_A, G_B, D_B in turn
    def _alternating_step(self, real_a: torch.Tensor, real_b: torch.Tensor, losses: dict[str, torch.Tensor]) -> None:
        fake_b = self._generator_update("A", real_a, real_b, losses)
        if self.use_gan:
            self._discriminator_update("D_A", "G_A", real_b, self._pooled("fake_B", fake_b), losses)
        fake_a = self._generator_update("B", real_b, real_a, losses)
        if self.use_gan:
            self._discriminator_update("D_B", "G_B", real_a, self._pooled("fake_A", fake_a), losses)

    def _generator_update(
        self, side: str, real: torch.Tensor, other: torch.Tensor, losses: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Update G_side (side A: G_A, input ``real`` from A, ``other`` from B) with every term it takes part in;
        returns its translation of ``real`` (before the update), for the pool and D's step."""
        other_side = "B" if side == "A" else "A"
        name, other_name = f"G_{side}", f"G_{other_side}"
        g, e = self.nets[name], self.nets[other_name]
        other_lambda = self.lambda_b if side == "A" else self.lambda_a
        d = self.nets.get(f"D_{side}")
        if self.fidelity.zero_conv_biases:
            zero_conv_biases(*(m for m in (d, g, e) if m is not None))
        self.optimizers[name].zero_grad(set_to_none=True)
        terms: list[torch.Tensor] = []
        if self.identity_on:
            losses[f"idt_{side}"] = self._l1(g(other), other) * other_lambda * self.lambda_idt
            terms.append(losses[f"idt_{side}"])
        fake = g(real)
        if self.use_gan and d is not None:
            losses[name] = self.gan_loss(d(fake), True)
            terms.append(losses[name])
        if self.cycle_on[side]:
            losses[f"cycle_{side}"] = self._l1(e(fake), real) * self.cycle_weight[side]
            terms.append(losses[f"cycle_{side}"])
        if self.cycle_on[other_side]:
            with torch.no_grad():
                translated = e(other)
            terms.append(self._l1(g(translated), other) * self.cycle_weight[other_side])
        loss = sum(terms, self._zeros())
        if terms:  # only this generator learns here
            torch.autograd.backward(self._total(loss), inputs=list(g.parameters()))
            self.optimizers[name].step()
        return fake.detach()

    def _discriminator_update(
        self, name: str, generator: str, real: torch.Tensor, fake: torch.Tensor, losses: dict[str, torch.Tensor]
    ) -> None:
        obj, d = self.config.cyclegan, self.nets[name]
        if self.fidelity.zero_conv_biases:
            zero_conv_biases(d, self.nets[generator])
        self.optimizers[name].zero_grad(set_to_none=True)
        real_loss, fake_loss = self.gan_loss(d(real), True), self.gan_loss(d(fake.detach()), False)
        losses[name] = 0.5 * (real_loss + fake_loss)
        gradient_of = real_loss + fake_loss
        if obj.gan_mode == "wgangp":
            penalty = gradient_penalty(d, real, fake, obj.gp_weight)
            losses[name], gradient_of = losses[name] + penalty, gradient_of + penalty
        self._total(gradient_of).backward()
        self.optimizers[name].step()

    @torch.no_grad()
    def sample_row(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        real_a, real_b = self.to_batch(batch)
        fake_b, fake_a = self.nets["G_A"](real_a), self.nets["G_B"](real_b)
        return [real_a, fake_b, self.nets["G_B"](fake_b), real_b, fake_a, self.nets["G_A"](fake_a)]
