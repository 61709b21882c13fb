"""Load a finished (or in-progress) run for generating images: its config and its generators, nothing else.

Evaluation builds only the generators (no discriminator, optimiser or schedule) and reads only their weights
from the checkpoint, so that scoring a run costs what translating images costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ganrepro.config import Config, load_config
from ganrepro.errors import DataError
from ganrepro.runfiles import CONFIG_FILE, LATEST_CHECKPOINT, checkpoint_path
from ganrepro.training import checkpoint
from ganrepro.training.networks import build_generators, forward_net


@dataclass
class RunBundle:
    config: Config
    generators: dict[str, torch.nn.Module]
    device: torch.device
    epoch: int
    step: int
    checkpoint_path: Path

    def set_train_mode(self, flag: bool) -> None:
        """Train mode at test time (dropout on, batch statistics) is the papers' protocol; eval is an option."""
        for net in self.generators.values():
            net.train(flag)

    @torch.no_grad()
    def translate(self, images: torch.Tensor) -> torch.Tensor:
        """Input domain -> output domain: pix2pix's G, CycleGAN's G_A."""
        return self.generators[forward_net(self.config)](images.to(self.device))


def load_run(run_dir: str | Path, device: str = "cpu", checkpoint_name: str = LATEST_CHECKPOINT) -> RunBundle:
    """The run's generators with the checkpoint's weights; the translating one must be in the checkpoint (an
    imported released generator holds nothing else), another one missing there keeps its initial weights."""
    from ganrepro.devices import resolve_device

    run_dir = Path(run_dir)
    config = load_config(run_dir / CONFIG_FILE)
    dev = torch.device(resolve_device(device))
    path = checkpoint_path(run_dir, checkpoint_name)
    payload = checkpoint.load(path, map_location="cpu", mmap=True)
    saved = payload["model"]["nets"]
    if forward_net(config) not in saved:
        raise DataError(f"{path} holds no {forward_net(config)} weights; it cannot be evaluated")
    generators = build_generators(config, dev)
    for name, net in generators.items():
        if name in saved:
            net.load_state_dict(saved[name])
    bundle = RunBundle(config, generators, dev, payload["epoch"], payload["step"], path)
    bundle.set_train_mode(True)
    return bundle
