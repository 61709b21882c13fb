"""The Lua pix2pix G step's gradient through D: D's updated weights, the D step's activations.

In phillipi/pix2pix (train.lua, ``fGx``) the generator's adversarial gradient is not computed by a new forward
pass of D: it takes ``netD.output`` from the D step's forward pass on the fake pair and calls
``netD:updateGradInput`` on it.  By then ``optim.adam`` has already updated D's parameters in place, so every
layer's input gradient uses D's *new* weights with the activations (inputs, batch statistics, leaky-ReLU masks)
of the *old* forward pass.  Autograd cannot express that mix (the old graph holds the old weights), so
:class:`DiscriminatorTape` records each layer's input during the D step and :meth:`DiscriminatorTape.input_grad`
applies the layers' input-gradient formulas backwards with the weights the layers hold when it is called.

The discriminators are plain chains (:class:`~ganrepro.models.discriminators.ChainDiscriminator`): convolutions, batch
or instance norm (batch statistics, as in training mode), leaky ReLU, and a centred zero pad for inputs smaller
than the chain needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DiscriminatorTape:
    """Records the inputs of every layer of ``discriminator``'s next forward pass(es); the last one counts."""

    def __init__(self, discriminator: nn.Module) -> None:
        self.discriminator = discriminator
        self.layers = list(discriminator.model)
        self.inputs: list[torch.Tensor] = []
        self.image_shape: torch.Size | None = None
        self.recording = False
        self._hooks = [layer.register_forward_pre_hook(self._record) for layer in self.layers]
        self._hooks.append(discriminator.register_forward_pre_hook(self._start))

    def _start(self, module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if self.recording:
            self.inputs = []
            self.image_shape = args[0].shape

    def _record(self, module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if self.recording:
            self.inputs.append(args[0].detach())

    def input_grad(self, grad_output: torch.Tensor) -> torch.Tensor:
        """d(loss)/d(D's input image) from d(loss)/d(D's output), through the recorded forward pass."""
        if self.image_shape is None or len(self.inputs) != len(self.layers):
            raise RuntimeError("DiscriminatorTape.input_grad needs a recorded forward pass of the discriminator")
        grad = grad_output
        for layer, x in zip(reversed(self.layers), reversed(self.inputs)):
            grad = _layer_input_grad(layer, x, grad)
        return _unpad(grad, self.image_shape)

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()


def _layer_input_grad(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, nn.Conv2d):
        return torch.nn.grad.conv2d_input(
            x.shape,
            layer.weight.detach(),
            grad,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
        )
    if isinstance(layer, nn.LeakyReLU):
        return torch.where(x > 0, grad, grad * layer.negative_slope)
    if isinstance(layer, (nn.BatchNorm2d, nn.InstanceNorm2d)):
        return _norm_input_grad(layer, x, grad)
    if isinstance(layer, nn.Identity):
        return grad
    raise TypeError(f"no input-gradient rule for {type(layer).__name__}")


def _norm_input_grad(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Normalisation with the statistics of ``x`` itself (training-mode batch norm; instance norm)."""
    dims = (0, 2, 3) if isinstance(layer, nn.BatchNorm2d) else (2, 3)
    count = 1
    for d in dims:
        count *= x.shape[d]
    mean = x.mean(dim=dims, keepdim=True)
    invstd = torch.rsqrt(x.var(dim=dims, unbiased=False, keepdim=True) + layer.eps)
    xhat = (x - mean) * invstd
    scale = invstd if layer.weight is None else invstd * layer.weight.detach().view(1, -1, 1, 1)
    return (
        scale
        / count
        * (count * grad - grad.sum(dim=dims, keepdim=True) - xhat * (grad * xhat).sum(dim=dims, keepdim=True))
    )


def _unpad(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Undo the centred zero pad a chain applies to inputs smaller than it can process."""
    pad_h, pad_w = grad.shape[-2] - shape[-2], grad.shape[-1] - shape[-1]
    if pad_h or pad_w:
        grad = F.pad(grad, (-(pad_w // 2), -(pad_w - pad_w // 2), -(pad_h // 2), -(pad_h - pad_h // 2)))
    return grad
