"""CycleGAN's history of generated images (Shrivastava et al.): D sees a mix of current and older fakes.

Until the pool holds ``size`` images every new fake is stored and returned; afterwards, with probability
1/2 a random stored image is returned (and replaced by the new one), otherwise the new fake itself.

The pool lives on the training device and decides without asking the host: its images are one
preallocated tensor, its fill count a device tensor, and every query draws its coin and slot from the pool's
own generator on that device whether or not they are used, through ``torch.where`` instead of Python
branches.  So a query never synchronises with the host and can be captured in a CUDA graph (the generator is
registered with the graph, see :mod:`ganrepro.training.graphs`).  Images, count and generator state go into
checkpoints, so a resumed run sees exactly the fakes an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.buffer: torch.Tensor | None = None  # (size, C, H, W), allocated by the first query
        self.count: torch.Tensor | None = None  # images stored so far (0-dim int64, on the device)
        self.slots: torch.Tensor | None = None  # 0 … size − 1, to address a slot without a scatter
        self.generator: torch.Generator | None = None

    def _allocate(self, like: torch.Tensor) -> None:
        self.buffer = like.new_zeros((self.size, *like.shape[1:]))
        self.slots = torch.arange(self.size, device=like.device)
        self.count = torch.zeros((), dtype=torch.long, device=like.device)
        if self.generator is None or self.generator.device != like.device:
            self.generator = torch.Generator(device=like.device).manual_seed(self.seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        images = images.detach()
        if self.buffer is None:
            self._allocate(images)
        assert self.buffer is not None and self.count is not None and self.generator is not None
        out = []
        for image in images.unbind(0):
            coin = torch.rand((), device=image.device, generator=self.generator) > 0.5
            drawn = torch.randint(0, self.size, (1,), device=image.device, generator=self.generator)
            filling = self.count < self.size
            slot = torch.where(filling, self.count.clamp(max=self.size - 1).view(1), drawn)
            stored = self.buffer.index_select(0, slot)[0]
            use_old = coin & ~filling
            out.append(torch.where(use_old, stored, image))
            # written through a mask over the slots: no scatter, so nothing to sort or synchronise
            target = (self.slots == slot).view(-1, *([1] * image.dim())) & (filling | use_old)
            self.buffer.copy_(torch.where(target, image.unsqueeze(0), self.buffer))
            self.count.add_(filling.long())
        return torch.stack(out)

    @property
    def images(self) -> list[torch.Tensor]:
        """The stored images, oldest slot first (reads the count: a host sync, for checkpoints and tests)."""
        if self.buffer is None or self.count is None:
            return []
        return [image.unsqueeze(0) for image in self.buffer[: int(self.count)].unbind(0)]

    def state_dict(self) -> dict[str, Any]:
        generator = self.generator.get_state() if self.generator is not None else None
        return {"images": [img.cpu() for img in self.images], "generator": generator}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        images = [img.to(device) for img in state["images"]]
        self.buffer = self.count = None
        self.generator = torch.Generator(device=device).manual_seed(self.seed)
        if state.get("generator") is not None:
            self.generator.set_state(state["generator"])
        if images:
            self._allocate(images[0])
            self.buffer[: len(images)] = torch.cat(images)  # type: ignore[index]
            self.count.fill_(len(images))  # type: ignore[union-attr]
