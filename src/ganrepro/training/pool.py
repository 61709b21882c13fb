"""CycleGAN's history of generated images (Shrivastava et al.): D sees a mix of current and older fakes.

Until the pool holds ``size`` images every new fake is stored and returned; afterwards, with probability
1/2 a random stored image is returned (and replaced by the new one), otherwise the new fake itself.  The
pool draws from its own generator, and both its images and that generator's state go into checkpoints, so
a resumed run sees exactly the fakes an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(1, generator=self.generator).item() > 0.5:
                slot = int(torch.randint(0, self.size, (1,), generator=self.generator))
                out.append(self.images[slot].clone())
                self.images[slot] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"images": [img.cpu() for img in self.images], "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.images = [img.to(device) for img in state["images"]]
        self.generator.set_state(state["generator"])
