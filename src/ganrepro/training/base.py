"""What the pix2pix and CycleGAN models share: networks, Adam optimisers, LR schedulers and their state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ganrepro.config import Config
from ganrepro.losses import l1
from ganrepro.training.graphs import wanted as graphs_wanted
from ganrepro.training.schedule import build_scheduler


class GANModel:
    """Subclasses fill ``nets`` and ``optimizers`` and implement :meth:`train_step` and :meth:`sample_row`.

    ``loss_names`` fixes the columns of the loss log; every step returns one device tensor per name.
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
        self.graphed = graphs_wanted(config, device)

    # ------------------------------------------------------------------ construction helpers
    def _adam(self, name: str, params: Iterable[nn.Parameter]) -> None:
        """Adam and its schedule; for a CUDA-graphed run capturable, the rate a device tensor (see
        :mod:`ganrepro.training.graphs`) that the scheduler, built on the float rate, fills in place."""
        t = self.config.train
        optimizer = torch.optim.Adam(params, lr=t.lr, betas=(t.beta1, t.beta2), capturable=self.graphed)
        self.optimizers[name] = optimizer
        self.schedulers[name] = build_scheduler(optimizer, t)
        self._graph_settings(optimizer)

    def _graph_settings(self, optimizer: torch.optim.Optimizer) -> None:
        """Capturable with a device-tensor rate when graphed, plain otherwise, whatever a loaded checkpoint
        says: a run may resume in the other mode."""
        for group in optimizer.param_groups:
            group["capturable"] = self.graphed
            if self.graphed:
                group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=self.device)

    @staticmethod
    def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
        """Freeze D during the G update so that G's loss does not accumulate gradients in D."""
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(flag)

    # ------------------------------------------------------------------ per-run reductions
    # A solo run's losses are scalars.  A pack (:class:`~ganrepro.training.packed.PackedModel`) runs the same
    # update rules on member-major tensors and overrides these with one value per member, so the steps are
    # written once, here and in the subclasses.
    def _l1(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return l1(prediction, target)

    def _zeros(self) -> torch.Tensor:
        return torch.zeros((), device=self.device)

    def _total(self, loss: torch.Tensor) -> torch.Tensor:
        """What is back-propagated for a (per-run) loss."""
        return loss

    def _run_sum(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum()

    def _channel_cat(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], 1)

    def _last_channels(self, x: torch.Tensor, count: int) -> torch.Tensor:
        return x[:, -count:]

    def _pooled(self, pool: str, fakes: torch.Tensor) -> torch.Tensor:
        return self.pools[pool].query(fakes)

    def image_pools(self) -> list[Any]:
        """Every image pool the step queries (their generators are registered with a CUDA graph)."""
        return list(self.pools.values())

    # ------------------------------------------------------------------ per-step / per-epoch API
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One iteration; returns each loss as a detached 0-dim device tensor (reading them is the caller's
        choice: the trainer does it in blocks, so the step never waits for the device)."""
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
            "optimizers": {k: _float_lr(v.state_dict(), "param_groups") for k, v in self.optimizers.items()},
            "schedulers": {k: _float_lr(v.state_dict(), None) for k, v in self.schedulers.items()},
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
            self._graph_settings(opt)
        for name, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
        for name, pool in self.pools.items():
            pool.load_state_dict(state["pools"][name], self.device)

    def to_batch(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        return batch["A"].to(self.device, non_blocking=True), batch["B"].to(self.device, non_blocking=True)


def _float_lr(state: dict[str, Any], groups_key: str | None) -> dict[str, Any]:
    """Learning rates as plain floats in a saved state, so that a checkpoint of a graphed run (device-tensor
    rates) resumes eagerly or on another device, and the other way round."""
    if groups_key is not None:
        state[groups_key] = [
            {**g, **{k: float(g[k]) for k in ("lr", "initial_lr") if k in g}} for g in state[groups_key]
        ]
    elif "_last_lr" in state:
        state["_last_lr"] = [float(v) for v in state["_last_lr"]]
    return state
