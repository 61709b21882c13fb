"""The papers' learning-rate schedules: constant for ``n_epochs``, then linear decay over ``n_epochs_decay``.

The scheduler is stepped once at the end of every epoch.  ``lr_step`` (see :class:`~ganrepro.config.TrainConfig`)
chooses which factor an epoch trains at: ``epoch_end`` reproduces the port's original code (epoch k, 1-based,
trains at 1 − max(0, k − n_epochs)/(n_epochs_decay + 1)); ``epoch_start`` reproduces the port's later code,
which steps before the epoch, so every epoch uses the next factor and the last one trains at lr 0; ``lua``
reproduces the Lua CycleGAN code, which subtracts lr/n_epochs_decay after each epoch past ``n_epochs`` (epoch k
trains at 1 − max(0, k − 1 − n_epochs)/n_epochs_decay, the last at lr/n_epochs_decay).
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from ganrepro.config import TrainConfig


class LinearDecay:
    """Picklable LR factor for epoch index ``e`` (0-based), so the scheduler's state round-trips."""

    def __init__(self, n_epochs: int, n_epochs_decay: int, lookahead: int, lua: bool = False) -> None:
        self.n_epochs = n_epochs
        self.n_epochs_decay = n_epochs_decay
        self.lookahead = lookahead
        self.lua = lua

    def __call__(self, epoch: int) -> float:
        k = epoch + 1 + self.lookahead  # 1-based epoch number whose factor applies
        if self.lua:
            return 1.0 - max(0, k - 1 - self.n_epochs) / float(self.n_epochs_decay) if self.n_epochs_decay else 1.0
        return 1.0 - max(0, k - self.n_epochs) / float(self.n_epochs_decay + 1)


def build_scheduler(optimizer: Optimizer, train: TrainConfig) -> LambdaLR:
    lookahead = 1 if train.lr_step == "epoch_start" else 0
    assert train.n_epochs is not None and train.n_epochs_decay is not None, "schedule not resolved"
    return LambdaLR(optimizer, LinearDecay(train.n_epochs, train.n_epochs_decay, lookahead, train.lr_step == "lua"))
