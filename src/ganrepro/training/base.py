"""What the pix2pix and CycleGAN models share: networks, Adam optimisers, LR schedulers and their state."""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from torch import nn

from ganrepro.config import Config
from ganrepro.errors import TrainingDiverged
from ganrepro.training.schedule import build_scheduler


class GANModel:
    """Subclasses fill ``nets`` and ``optimizers`` and implement :meth:`train_step` and :meth:`sample_row`.

    ``loss_names`` fixes the columns of the loss log; every step returns one float per name.
    """

    loss_names: tuple[str, ...] = ()
    #: name of the network that translates the table's input domain ("A") into the output domain
    forward_net: str = "G"

    def __init__(self, config: Config, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.pools: dict[str, Any] = {}

    # ------------------------------------------------------------------ construction helpers
    def _adam(self, name: str, params: Iterable[nn.Parameter]) -> None:
        t = self.config.train
        self.optimizers[name] = torch.optim.Adam(params, lr=t.lr, betas=(t.beta1, t.beta2))
        self.schedulers[name] = build_scheduler(self.optimizers[name], t)

    @staticmethod
    def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
        """Freeze D during the G update so that G's loss does not accumulate gradients in D."""
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(flag)

    @staticmethod
    def check_finite(step_losses: dict[str, torch.Tensor], context: str) -> None:
        """Stop before an optimiser step is taken with a NaN/inf loss (the last checkpoint stays good)."""
        for name, value in step_losses.items():
            number = float(value.detach())
            if not math.isfinite(number):
                raise TrainingDiverged(f"loss {name} became {number} during {context}; training stopped, "
                                       "the last checkpoint was left as it was")

    # ------------------------------------------------------------------ per-step / per-epoch API
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError

    def sample_row(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Images (N, C, H, W) to show side by side in a sample grid: inputs, outputs, targets."""
        raise NotImplementedError

    def end_epoch(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    @property
    def lr(self) -> float:
        first = next(iter(self.optimizers.values()))
        return float(first.param_groups[0]["lr"])

    def train_mode(self, flag: bool = True) -> None:
        for net in self.nets.values():
            net.train(flag)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {k: v.state_dict() for k, v in self.nets.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "pools": {k: v.state_dict() for k, v in self.pools.items()},
        }

    def load_state_dict(self, state: dict[str, Any], *, nets_only: bool = False) -> None:
        """Everything a resume needs; with ``nets_only`` (generating images) the networks the checkpoint holds,
        which must include :attr:`forward_net` (an imported released generator holds nothing else)."""
        if nets_only:
            if self.forward_net not in state["nets"]:
                raise KeyError(f"the checkpoint holds no {self.forward_net}")
            for name, weights in state["nets"].items():
                self.nets[name].load_state_dict(weights)
            return
        for name, net in self.nets.items():
            net.load_state_dict(state["nets"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for name, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
        for name, pool in self.pools.items():
            pool.load_state_dict(state["pools"][name], self.device)

    def to_batch(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        return batch["A"].to(self.device, non_blocking=True), batch["B"].to(self.device, non_blocking=True)
