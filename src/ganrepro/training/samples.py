"""Pictures of a run: sample grids (one row per fixed test image) and loss curves."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from ganrepro.images import save_png, to_uint8


@contextlib.contextmanager
def side_effect_free(nets: dict[str, nn.Module]) -> Iterator[None]:
    """Run networks without disturbing training: the global RNG (dropout) and BatchNorm running statistics
    are restored afterwards, so writing samples never changes the weights a run ends with."""
    buffers = {
        name: {
            k: v.clone()
            for k, v in net.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))
        }
        for name, net in nets.items()
    }
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        yield
    for name, net in nets.items():
        net.load_state_dict(buffers[name], strict=False)


def write_grid(rows: list[torch.Tensor], path: Path) -> None:
    """``rows`` = list of (N, C, H, W) tensors (one per column); writes N rows × len(rows) columns."""
    columns = [t.detach().cpu().expand(-1, 3, -1, -1) if t.size(1) == 1 else t.detach().cpu() for t in rows]
    grid = torch.cat([torch.cat(list(col.unbind(0)), dim=1) for col in columns], dim=2)  # (C, N·H, cols·W)
    save_png(to_uint8(grid), path)


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """One panel per loss, raw per-step values with a moving average on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from ganrepro.atomic import atomic_path

    frame = pd.read_csv(csv_path)
    names = [c for c in frame.columns if c not in ("step", "epoch", "iter", "lr", "seconds")]
    if frame.empty or not names:
        return
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 1.8 * len(names)), sharex=True, squeeze=False)
    window = max(1, len(frame) // 50)
    for ax, name in zip(axes[:, 0], names):
        ax.plot(frame["step"], frame[name], lw=0.5, alpha=0.4)
        ax.plot(frame["step"], frame[name].rolling(window, min_periods=1).mean(), lw=1.2)
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
