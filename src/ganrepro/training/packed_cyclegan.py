"""CycleGAN's update rules (:mod:`ganrepro.training.cyclegan`) on a pack: the same steps, one loss per member.

The steps are :class:`~ganrepro.training.cyclegan.CycleGANModel`'s own, for both references: the port's joint G
step then joint D step, or the Lua code's G_A, D_A, G_B, D_B updates in turn, with the same forward passes in the
same order.  Only the reductions change (:class:`~ganrepro.training.packed.PackedModel`).  Each member keeps its
own image pools (its solo model's, seeded as in its solo run), and its own λ_A, λ_B, λ_identity and cycle
switches as per-member weights: a term that is off for a member gets weight 0 (no gradient), and a term off for
every member is not computed at all.  Switches may differ only without batch norm
(:mod:`ganrepro.training.packing`), where an extra forward pass changes nothing.
"""

from __future__ import annotations

from ganrepro.training.cyclegan import CycleGANModel
from ganrepro.training.packed import MemberGANLoss, PackedModel


class PackedCycleGANModel(PackedModel, CycleGANModel):
    def __init__(self, members: list[CycleGANModel], labels: list[str]) -> None:
        super().__init__(members, labels)  # type: ignore[arg-type]
        self.fidelity = members[0].fidelity
        objectives = [m.config.cyclegan for m in members]
        self._weights(objectives[0].use_gan, objectives)
        if self.use_gan:
            self.gan_loss = MemberGANLoss(objectives[0].gan_mode, self.n)
