"""pix2pix's update rule (:mod:`ganrepro.training.pix2pix`) on a pack: the same steps, one loss per member.

The steps are :class:`~ganrepro.training.pix2pix.Pix2PixModel`'s own: the order of every forward pass, the D step
followed by the G step, the ``reference`` switches (bias zeroing, the Lua G step's reuse of D's output through
:class:`~ganrepro.training.lua_backward.DiscriminatorTape`, D's gradient scale).  Only the reductions change
(:class:`~ganrepro.training.packed.PackedModel`): each loss is a vector over the members, each member's L1 term is
weighted by its own λ, and the conditional D sees each member's (A, output) pair side by side.  A member with
λ = 0 gets an L1 term of weight 0, i.e. exactly no gradient, as its solo run does by not computing the term.
"""

from __future__ import annotations

from ganrepro.training.lua_backward import DiscriminatorTape
from ganrepro.training.packed import MemberGANLoss, PackedModel
from ganrepro.training.pix2pix import Pix2PixModel


class PackedPix2PixModel(PackedModel, Pix2PixModel):
    def __init__(self, members: list[Pix2PixModel], labels: list[str]) -> None:
        super().__init__(members, labels)  # type: ignore[arg-type]
        template = members[0]
        self.fidelity, self.use_d, self.conditional = template.fidelity, template.use_d, template.conditional
        self.lambda_l1 = self.vector([m.config.pix2pix.lambda_l1 for m in members])
        self.l1_on = any(m.l1_on for m in members)
        self.tape: DiscriminatorTape | None = None
        if self.use_d:
            self.gan_loss = MemberGANLoss(self.config.pix2pix.gan_mode, self.n)
            if template.tape is not None:
                self.tape = DiscriminatorTape(self.nets["D"])
