"""Reflection padding whose CUDA backward is deterministic.

PyTorch's CUDA kernel for the backward of reflection padding adds the gradients of reflected pixels into the
input gradient with atomics, in no fixed order; it has no deterministic version (``torch.use_deterministic_
algorithms`` can only warn).  CycleGAN's ResNet generators pad before every 3x3 and 7x7 convolution, so with it
a GPU run would train to other last bits from one run to the next, and a resumed run could not equal an
uninterrupted one.

:class:`ReflectionPad2d` keeps PyTorch's kernels wherever they are deterministic: the forward everywhere (each
output pixel reads one input pixel), and the whole layer on the CPU, whose backward sums in a fixed order and is
the reference port's, so CPU runs stay bit-identical to it.  On CUDA its backward is :func:`fold_reflected`:
the padded gradient's borders are flipped and added onto the pixels they reflect, in one fixed order, with a few
border-sized kernels and two full-size copies.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def fold_reflected(grad: torch.Tensor, padding: tuple[int, int, int, int]) -> torch.Tensor:
    """The gradient of reflection padding by ``(left, right, top, bottom)`` with respect to its input: every
    padded pixel's gradient added onto the pixel it reflects (columns first, then rows), then the centre."""
    left, right, top, bottom = padding
    grad = grad.clone()
    width, height = grad.shape[-1] - left - right, grad.shape[-2] - top - bottom
    # output column j < left copies input column left - j, i.e. padded column 2·left - j; the right border's
    # column left + width + k copies padded column left + width - 2 - k
    if left:
        grad[..., left + 1 : 2 * left + 1] += grad[..., :left].flip(-1)
    if right:
        grad[..., left + width - 1 - right : left + width - 1] += grad[..., left + width :].flip(-1)
    if top:
        grad[..., top + 1 : 2 * top + 1, :] += grad[..., :top, :].flip(-2)
    if bottom:
        grad[..., top + height - 1 - bottom : top + height - 1, :] += grad[..., top + height :, :].flip(-2)
    return grad[..., top : top + height, left : left + width].contiguous()


class _ReflectionPad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, padding: tuple[int, int, int, int]) -> torch.Tensor:
        ctx.padding = padding
        return F.pad(x, padding, mode="reflect")

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return fold_reflected(grad, ctx.padding), None


def reflect_pad(x: torch.Tensor, padding: tuple[int, int, int, int]) -> torch.Tensor:
    """``F.pad(x, padding, mode="reflect")`` with :func:`fold_reflected` as its backward, on any device."""
    return _ReflectionPad.apply(x, tuple(padding))


class ReflectionPad2d(nn.ReflectionPad2d):
    """``nn.ReflectionPad2d``, with a deterministic backward on CUDA (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reflect_pad(x, self.padding) if x.is_cuda else super().forward(x)
