"""CycleGAN's update rules (:mod:`ganrepro.training.cyclegan`) on a pack: the same steps, one loss per member.

Both references' iterations are those of :class:`~ganrepro.training.cyclegan.CycleGANModel`: the port's joint G
step then joint D step, or the Lua code's G_A, D_A, G_B, D_B updates in turn (each generator's step taking every
term it appears in and changing only that generator), with the same forward passes in the same order.  Each
member keeps its own image pools (its solo model's, seeded as in its solo run), and its own λ_A, λ_B, λ_identity
and cycle switches as per-member weights: a term that is off for a member gets weight 0 (no gradient), and a term
off for every member is not computed at all.  Switches may differ only without batch norm
(:mod:`ganrepro.training.packing`), where an extra forward pass changes nothing.
"""

from __future__ import annotations

import torch

from ganrepro.models import zero_conv_biases
from ganrepro.training.cyclegan import CycleGANModel
from ganrepro.training.packed import MemberGANLoss, PackedModel, member_l1


class PackedCycleGANModel(PackedModel):
    def __init__(self, members: list[CycleGANModel], labels: list[str]) -> None:
        super().__init__(members, labels)  # type: ignore[arg-type]
        self.fidelity = members[0].fidelity
        objectives = [m.config.cyclegan for m in members]
        self.use_gan = objectives[0].use_gan
        if self.use_gan:
            self.gan_loss = MemberGANLoss(objectives[0].gan_mode, self.n)
        self.lambda_a = self.vector([o.lambda_A for o in objectives])
        self.lambda_b = self.vector([o.lambda_B for o in objectives])
        self.lambda_idt = self.vector([o.lambda_identity for o in objectives])
        # per side: (weight of its own cycle term, weight of the other side's cycle term) per member
        self.cycle_weight = {
            "A": self.vector([o.lambda_A * o.forward_cycle for o in objectives]),
            "B": self.vector([o.lambda_B * o.backward_cycle for o in objectives]),
        }
        self.cycle_on = {"A": any(o.forward_cycle for o in objectives), "B": any(o.backward_cycle for o in objectives)}
        self.identity_on = any(o.lambda_identity > 0 for o in objectives)

    def train_step(self, batches: list[dict[str, torch.Tensor]]) -> list[dict[str, float]]:  # type: ignore[override]
        real_a, real_b = self.pack_batch(batches)
        losses: dict[str, torch.Tensor] = {}
        if self.fidelity.alternating_updates:
            self._alternating_step(real_a, real_b, losses)
        else:
            self._joint_step(real_a, real_b, losses)
        return self.report(losses)

    def _l1(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return member_l1(prediction, target, self.n)

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
        loss_g = sum(losses.values(), torch.zeros(self.n, device=self.device))
        self.check_finite({"G": loss_g}, "the generator step")
        loss_g.sum().backward()
        self.optimizers["G"].step()

        if self.use_gan:
            self.set_requires_grad(discriminators, True)
            self.optimizers["D"].zero_grad(set_to_none=True)
            d_losses = {
                "D_A": self._d_loss(self.nets["D_A"], real_b, self.query_pools("fake_B", fake_b)),
                "D_B": self._d_loss(self.nets["D_B"], real_a, self.query_pools("fake_A", fake_a)),
            }
            self.check_finite(d_losses, "the discriminator step")
            (d_losses["D_A"] + d_losses["D_B"]).sum().backward()
            self.optimizers["D"].step()
            losses.update(d_losses)

    def _d_loss(self, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.gan_loss(d(real), True) + self.gan_loss(d(fake.detach()), False))

    # ------------------------------------------------------------------ Lua: G_A, D_A, G_B, D_B in turn
    def _alternating_step(self, real_a: torch.Tensor, real_b: torch.Tensor,
                          losses: dict[str, torch.Tensor]) -> None:
        fake_b = self._generator_update("A", real_a, real_b, losses)
        if self.use_gan:
            self._discriminator_update("D_A", "G_A", real_b, self.query_pools("fake_B", fake_b), losses)
        fake_a = self._generator_update("B", real_b, real_a, losses)
        if self.use_gan:
            self._discriminator_update("D_B", "G_B", real_a, self.query_pools("fake_A", fake_a), losses)

    def _generator_update(self, side: str, real: torch.Tensor, other: torch.Tensor,
                          losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """:meth:`CycleGANModel._generator_update` with per-member weights."""
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
        loss = sum(terms, torch.zeros(self.n, device=self.device))
        self.check_finite({name: loss}, f"the {name} step")
        if terms:
            torch.autograd.backward(loss.sum(), inputs=list(g.parameters()))
            self.optimizers[name].step()
        return fake.detach()

    def _discriminator_update(self, name: str, generator: str, real: torch.Tensor, fake: torch.Tensor,
                              losses: dict[str, torch.Tensor]) -> None:
        d = self.nets[name]
        if self.fidelity.zero_conv_biases:
            zero_conv_biases(d, self.nets[generator])
        self.optimizers[name].zero_grad(set_to_none=True)
        real_loss, fake_loss = self.gan_loss(d(real), True), self.gan_loss(d(fake.detach()), False)
        losses[name] = 0.5 * (real_loss + fake_loss)
        self.check_finite({name: losses[name]}, f"the {name} step")
        (real_loss + fake_loss).sum().backward()
        self.optimizers[name].step()
