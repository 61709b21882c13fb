"""Whole training steps captured in one CUDA graph, replayed instead of launching ~1000 small kernels a step.

``train.cuda_graph``: ``auto`` captures on CUDA, ``on`` requires CUDA, ``off`` (and any CPU run) keeps the
eager step.  The step that is captured is the model's own ``train_step``, unchanged; what makes it capturable
is arranged around it:

* inputs are copied into static buffers that the graph reads;
* Adam is built ``capturable`` with its learning rate a device tensor (:class:`~ganrepro.training.base.GANModel`),
  which the scheduler fills in place at epoch boundaries, so the graph sees the new rate without recapture;
* dropout draws from the default CUDA generator and the CycleGAN image pool from its own device generator
  (registered with the graph), both advanced by every replay, so random streams and checkpointed RNG states
  behave as in eager mode;
* the losses stay on the device (the non-finite guard reads them in blocks, :mod:`ganrepro.training.losslog`).

Capture needs a few eager iterations first (cuDNN workspaces, Adam's state); these are real training steps,
run on a side stream, so a run (and a resumed run) trains ``WARMUP_STEPS`` steps eagerly before replaying.
A batch of another shape (a short last batch) runs eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from ganrepro.config import Config
from ganrepro.errors import ConfigError

if TYPE_CHECKING:
    from ganrepro.training.base import GANModel

Step = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]

WARMUP_STEPS = 3


def wanted(config: Config, device: torch.device) -> bool:
    """Whether steps on ``device`` are captured (``train.cuda_graph`` resolved against the device).

    Models built for evaluation ask too (their optimisers are then built capturable, unused), so this
    never refuses; :func:`step_function` refuses ``on`` without CUDA for training."""
    return config.train.cuda_graph != "off" and device.type == "cuda"


class GraphedStep:
    """``step(batch) -> losses``: eager warm-up steps, then one capture, then replays."""

    def __init__(self, model: GANModel, warmup: int = WARMUP_STEPS) -> None:
        self.model = model
        self.warmup = warmup
        self.done = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: dict[str, torch.Tensor] = {}
        self.outputs: dict[str, torch.Tensor] = {}

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        a, b = self.model.to_batch(batch)
        if self.graph is not None:
            if a.shape != self.inputs["A"].shape or b.shape != self.inputs["B"].shape:
                return self.model.train_step({"A": a, "B": b})
            self.inputs["A"].copy_(a)
            self.inputs["B"].copy_(b)
            self.graph.replay()
            return self.outputs
        if self.done < self.warmup:
            self.done += 1
            return self._side_stream_step(a, b)
        return self._capture(a, b)

    def _side_stream_step(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            losses = self.model.train_step({"A": a, "B": b})
        torch.cuda.current_stream().wait_stream(stream)
        return losses

    def _capture(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        self.inputs = {"A": a.clone(), "B": b.clone()}
        graph = torch.cuda.CUDAGraph()
        for pool in self.model.image_pools():
            if pool.generator is not None:
                if not hasattr(graph, "register_generator_state"):
                    raise ConfigError(
                        f"torch {torch.__version__} cannot capture the image pool's generator in a "
                        "CUDA graph (needs torch >= 2.5); set train.cuda_graph=off"
                    )
                graph.register_generator_state(pool.generator)
        torch.cuda.synchronize()
        # thread_local: a DataLoader's pin-memory thread may allocate while this thread captures
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self.outputs = self.model.train_step(self.inputs)
        self.graph = graph
        graph.replay()  # capture records the step without running it
        return self.outputs


def step_function(model: GANModel, config: Config, device: torch.device) -> Step:
    """The callable the trainer steps with: a :class:`GraphedStep` or the model's eager ``train_step``."""
    if config.train.cuda_graph == "on" and device.type != "cuda":
        raise ConfigError(f"train.cuda_graph = on needs a CUDA device, not {device}; set train.cuda_graph=auto or off")
    return GraphedStep(model) if wanted(config, device) else model.train_step
