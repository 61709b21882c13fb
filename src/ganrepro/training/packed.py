"""What packed pix2pix and CycleGAN share: members, grouped networks, grouped optimisers, per-member losses.

A packed model is built from N solo models (:class:`~ganrepro.training.base.GANModel`), each constructed exactly
as a solo run constructs it (its seed, its config), so each member starts from its solo run's weights, optimiser
settings, schedule and image pools.  Their networks are then grouped (:func:`~ganrepro.models.grouped.group_networks`)
and one optimiser of the same class and settings is made for each of the solo model's optimisers, over the
grouped parameters in the same order.  Adam works element by element, so one Adam over the grouped tensors
is N solo Adams; its state splits back into each member's.

Every loss is a vector with one entry per member, each reduced exactly as the solo loss is (a mean over that
member's elements).  The members' networks share no parameter, so back-propagating the sum of the vector gives
each member the gradient of its own loss.  The solo models are kept: their pools are the members' pools, their
``loss_names`` fix each member's loss log, and their networks, whose tensors become views of the member's slice
of the grouped ones (no second copy of every member's weights on the device), draw samples with the solo
``sample_row``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ganrepro.models.grouped import (
    group_networks,
    member_cat,
    member_slice,
    merge_state,
    pack,
    split_state,
    unpack,
)
from ganrepro.training.base import GANModel
from ganrepro.training.schedule import build_scheduler


def member_mean(x: torch.Tensor, members: int) -> torch.Tensor:
    """Mean of each member's elements of a member-major (B, N·C, …) tensor: shape (N,)."""
    return x.reshape(x.shape[0], members, -1).mean(dim=(0, 2))


def member_sum(x: torch.Tensor, members: int) -> torch.Tensor:
    return x.reshape(x.shape[0], members, -1).sum(dim=(0, 2))


def member_l1(prediction: torch.Tensor, target: torch.Tensor, members: int) -> torch.Tensor:
    """Each member's mean absolute error (:func:`ganrepro.losses.l1` per member)."""
    return member_mean((prediction - target).abs(), members)


class MemberGANLoss:
    """:class:`ganrepro.losses.GANLoss` (vanilla or lsgan) with one value per member."""

    def __init__(self, mode: str, members: int) -> None:
        if mode not in ("vanilla", "lsgan"):
            raise ValueError(f"gan_mode {mode!r} cannot be packed")
        self.mode = mode
        self.members = members

    def __call__(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.full_like(prediction, 1.0 if target_is_real else 0.0)
        if self.mode == "vanilla":
            elementwise = F.binary_cross_entropy_with_logits(prediction, target, reduction="none")
        else:
            elementwise = F.mse_loss(prediction, target, reduction="none")
        return member_mean(elementwise, self.members)


class PackedModel(GANModel):
    """N solo models of one architecture trained as one grouped model.

    The update rules are the solo models' own (a packed model is also a :class:`Pix2PixModel` or
    :class:`CycleGANModel`, after this class in its bases): this class replaces their per-run reductions
    (:meth:`GANModel._l1` and the rest) with per-member ones, so a step's batch is the members' batches packed
    member-major and each loss it returns is a vector with one entry per member.  No step reads anything on the
    host: the non-finite guard reads the losses in blocks (:class:`~ganrepro.training.losslog.MemberLossLogs`).
    """

    def __init__(self, members: list[GANModel], labels: list[str]) -> None:
        template = members[0]
        GANModel.__init__(self, template.config, template.device)  # not the solo model's: it would build nets
        self.members = members
        self.labels = labels
        self.n = len(members)
        self.loss_names = tuple(dict.fromkeys(name for m in members for name in m.loss_names))
        self.forward_net = template.forward_net
        self.nets = {name: group_networks([m.nets[name] for m in members]) for name in template.nets}
        self._share_member_tensors()
        grouped_of = {
            id(solo): grouped
            for name, net in template.nets.items()
            for solo, grouped in zip(net.parameters(), self.nets[name].parameters())
        }
        for name, solo_opt in template.optimizers.items():
            params = [grouped_of[id(p)] for group in solo_opt.param_groups for p in group["params"]]
            self.optimizers[name] = type(solo_opt)(params, **{**solo_opt.defaults, "lr": self.config.train.lr})
            self.schedulers[name] = build_scheduler(self.optimizers[name], self.config.train)
            self._graph_settings(self.optimizers[name])

    # ------------------------------------------------------------------ per-member reductions
    def vector(self, values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=self.device)

    def _l1(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return member_l1(prediction, target, self.n)

    def _zeros(self) -> torch.Tensor:
        return torch.zeros(self.n, device=self.device)

    def _total(self, loss: torch.Tensor) -> torch.Tensor:
        """The members share no parameter: the gradient of the sum is each member's own gradient."""
        return loss.sum()

    def _run_sum(self, x: torch.Tensor) -> torch.Tensor:
        return member_sum(x, self.n)

    def _channel_cat(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return member_cat(a, b, self.n)

    def _last_channels(self, x: torch.Tensor, count: int) -> torch.Tensor:
        return member_slice(x, self.n, -count)

    def _pooled(self, pool: str, fakes: torch.Tensor) -> torch.Tensor:
        """Each member's fakes through its own image pool (seeded as in its solo run)."""
        return pack([m.pools[pool].query(part) for m, part in zip(self.members, unpack(fakes, self.n))])

    def image_pools(self) -> list[Any]:
        return [pool for member in self.members for pool in member.pools.values()]

    def pack_batch(self, batches: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The members' batches (each from its own order and jitter) as one member-major batch on the device."""
        pairs = [m.to_batch(b) for m, b in zip(self.members, batches)]
        return {"A": pack([a for a, _ in pairs]), "B": pack([b for _, b in pairs])}

    # ------------------------------------------------------------------ state: N ordinary solo states
    def member_states(self) -> list[dict[str, Any]]:
        """Each member's state in the solo checkpoint layout (:meth:`GANModel.state_dict`, rates as floats).

        Its tensors are views of the grouped ones: copy them (the checkpoint writer's host snapshot does) before
        the next step changes them."""
        state = self.state_dict()
        parts = {
            section: {name: split_state(value, self.n, views=True) for name, value in state[section].items()}
            for section in ("nets", "optimizers")
        }
        return [
            {
                "nets": {name: split[m] for name, split in parts["nets"].items()},
                "optimizers": {name: split[m] for name, split in parts["optimizers"].items()},
                "schedulers": state["schedulers"],
                "pools": {name: pool.state_dict() for name, pool in member.pools.items()},
            }
            for m, member in enumerate(self.members)
        ]

    def load_member_states(self, states: list[dict[str, Any]]) -> None:
        for name, net in self.nets.items():
            net.load_state_dict(merge_state([s["nets"][name] for s in states]))
        for name, opt in self.optimizers.items():
            opt.load_state_dict(merge_state([s["optimizers"][name] for s in states]))
            self._graph_settings(opt)
        for name, sched in self.schedulers.items():
            sched.load_state_dict(states[0]["schedulers"][name])
        for member, state in zip(self.members, states):
            for name, pool in member.pools.items():
                pool.load_state_dict(state["pools"][name], self.device)

    def _share_member_tensors(self) -> None:
        """Make every member's solo parameters and buffers views of its slice of the grouped ones: the solo
        networks then always hold the member's current weights and statistics, in no memory of their own."""
        for name, net in self.nets.items():
            for member, views in zip(self.members, split_state(net.state_dict(), self.n, views=True)):
                solo = member.nets[name]
                for key, value in solo.state_dict(keep_vars=True).items():
                    if isinstance(value, torch.nn.Parameter):
                        value.data = views[key]
                    else:
                        module, _, buffer = key.rpartition(".")
                        solo.get_submodule(module).register_buffer(buffer, views[key])
