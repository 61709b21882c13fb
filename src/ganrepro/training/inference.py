"""Load a finished (or in-progress) run for generating images: config + generators from its checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ganrepro.config import Config, load_config
from ganrepro.training import checkpoint, rundir
from ganrepro.training.base import GANModel


@dataclass
class RunBundle:
    config: Config
    model: GANModel
    epoch: int
    step: int
    checkpoint_path: Path

    @property
    def generators(self) -> dict[str, torch.nn.Module]:
        return {k: v for k, v in self.model.nets.items() if k.startswith("G")}

    def set_train_mode(self, flag: bool) -> None:
        """Train mode at test time (dropout on, batch statistics) is the papers' protocol; eval is an option."""
        for net in self.generators.values():
            net.train(flag)

    @torch.no_grad()
    def translate(self, images: torch.Tensor) -> torch.Tensor:
        """Input domain -> output domain: pix2pix's G, CycleGAN's G_A."""
        net = self.model.nets[self.model.forward_net]
        return net(images.to(self.model.device))


def load_run(run_dir: str | Path, device: str = "cpu", checkpoint_name: str = "latest.pt") -> RunBundle:
    from ganrepro.devices import resolve_device
    from ganrepro.training.trainer import build_model

    run_dir = Path(run_dir)
    config = load_config(run_dir / rundir.CONFIG_FILE)
    dev = torch.device(resolve_device(device))
    path = run_dir / "checkpoints" / checkpoint_name
    payload = checkpoint.load(path, map_location="cpu")
    model = build_model(config, dev)
    model.load_state_dict(payload["model"], nets_only=True)
    bundle = RunBundle(config, model, payload["epoch"], payload["step"], path)
    bundle.set_train_mode(True)
    return bundle
