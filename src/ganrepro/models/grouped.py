"""N networks of one architecture as one grouped network: one kernel launch does the work of N.

A pack trains N runs whose networks have the same shapes.  Instead of N small networks, it runs one network in
which every layer holds the N members' layers side by side, with a *member-major* channel layout: a tensor of
``N·C`` channels holds member 0's ``C`` channels, then member 1's, and so on.

- A convolution (or transposed convolution) becomes one with ``groups = N``: group ``m`` sees only member
  ``m``'s input channels and produces only its output channels, with member ``m``'s weights.  Its weight is the
  members' weights concatenated along dim 0 (output channels for ``Conv2d``, input channels for
  ``ConvTranspose2d``, whose weight is laid out (in, out / groups, kH, kW)).
- Batch and instance norm over ``N·C`` channels are per-channel, so every member keeps its own statistics,
  affine parameters and running estimates.
- ReLU, leaky ReLU, Tanh, reflection padding, zero padding and dropout act element by element.
- The U-Net's skip concatenation is the one place where channels are rearranged: each level concatenates its
  input and its output *per member* (:class:`PackedUnetBlock`).

The architectures are not written twice: :func:`group_networks` converts the N solo networks (built exactly as
a solo run builds them, so each member starts from its solo run's weights) into the grouped one, and
:func:`split_state` turns the grouped network's (or its optimiser's) state back into N solo states.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ganrepro.models.generators import UnetBlock


class PackedUnetBlock(UnetBlock):
    """A U-Net level of a grouped network: the skip concatenation keeps each member's channels together."""

    members: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(x)
        if self.submodule is not None:
            y = self.submodule(y)
        y = self.up(y)
        return member_cat(x, y, self.members) if self.concat else y


def member_cat(a: torch.Tensor, b: torch.Tensor, members: int) -> torch.Tensor:
    """Per-member ``cat([a, b], 1)`` of two member-major tensors: (B, N·Ca, …), (B, N·Cb, …) -> (B, N·(Ca+Cb), …)."""
    batch, rest = a.shape[0], a.shape[2:]
    joined = torch.cat([a.reshape(batch, members, -1, *rest), b.reshape(batch, members, -1, *rest)], 2)
    return joined.reshape(batch, -1, *rest)


def member_slice(x: torch.Tensor, members: int, start: int, stop: int | None = None) -> torch.Tensor:
    """Channels ``start:stop`` of every member of a member-major tensor, still member-major."""
    batch, rest = x.shape[0], x.shape[2:]
    return x.reshape(batch, members, -1, *rest)[:, :, start:stop].reshape(batch, -1, *rest)


def pack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The members' (B, C, …) tensors as one member-major (B, N·C, …) tensor."""
    return torch.cat(tensors, 1)


def unpack(x: torch.Tensor, members: int) -> list[torch.Tensor]:
    """A member-major (B, N·C, …) tensor as the members' (B, C, …) tensors (views)."""
    return list(x.chunk(members, 1))


def _grouped_conv(solos: list[nn.Module]) -> nn.Module:
    first, n = solos[0], len(solos)
    if first.groups != 1:
        raise TypeError("grouping an already grouped convolution is not supported")
    kwargs: dict[str, Any] = dict(
        kernel_size=first.kernel_size,
        stride=first.stride,
        padding=first.padding,
        dilation=first.dilation,
        groups=n,
        bias=first.bias is not None,
        padding_mode=first.padding_mode,
    )
    if isinstance(first, nn.ConvTranspose2d):
        kwargs["output_padding"] = first.output_padding
    layer = type(first)(first.in_channels * n, first.out_channels * n, **kwargs)
    return layer.to(device=first.weight.device, dtype=first.weight.dtype)


def _grouped_norm(solos: list[nn.Module]) -> nn.Module:
    first, n = solos[0], len(solos)
    layer = type(first)(
        first.num_features * n,
        eps=first.eps,
        momentum=first.momentum,
        affine=first.affine,
        track_running_stats=first.track_running_stats,
    )
    device = next(iter([*first.parameters(), *first.buffers()]), torch.empty(0)).device
    return layer.to(device)


_GROUPED_LEAVES = {
    nn.Conv2d: _grouped_conv,
    nn.ConvTranspose2d: _grouped_conv,
    nn.BatchNorm2d: _grouped_norm,
    nn.InstanceNorm2d: _grouped_norm,
}
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.ReflectionPad2d, nn.ZeroPad2d, nn.Dropout, nn.Identity)


def group_networks(solos: list[nn.Module]) -> nn.Module:
    """One grouped network from N solo networks of the same architecture (their weights and statistics copied).

    The module tree of the first solo network is copied and each layer is replaced by its grouped version;
    any layer type this conversion does not know is refused rather than silently shared between members.
    """
    if not solos:
        raise ValueError("group_networks needs at least one network")
    shapes = [{k: tuple(v.shape) for k, v in net.state_dict().items()} for net in solos]
    if any(s != shapes[0] for s in shapes[1:]):
        raise ValueError("networks of different shapes cannot be grouped")
    grouped = copy.deepcopy(solos[0])
    members = [dict(net.named_modules()) for net in solos]
    for name, module in list(grouped.named_modules()):
        if isinstance(module, UnetBlock):
            module.__class__ = PackedUnetBlock
            module.members = len(solos)
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            builder = _GROUPED_LEAVES.get(type(child))
            if builder is not None:
                setattr(module, child_name, builder([m[full] for m in members]))
            elif (
                not isinstance(child, _ELEMENTWISE)
                and not list(child.children())
                and list(child.parameters(recurse=False))
            ):
                raise TypeError(f"no grouped version of layer {full} ({type(child).__name__})")
    grouped.load_state_dict(merge_state([net.state_dict() for net in solos]))
    return grouped


def merge_state(states: list[Any]) -> Any:
    """N solo states (nested dicts/lists of tensors) -> the grouped state: tensors concatenated along dim 0.

    Scalars (a batch norm's ``num_batches_tracked``, Adam's ``step``) are the same for every member of a pack,
    which steps them together, and are kept once.
    """
    first = states[0]
    if isinstance(first, torch.Tensor):
        return first.clone() if first.dim() == 0 else torch.cat(states, 0)
    if isinstance(first, dict):
        return {k: merge_state([s[k] for s in states]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(merge_state([s[i] for s in states]) for i in range(len(first)))
    return copy.deepcopy(first)


def split_state(state: Any, members: int, views: bool = False) -> list[Any]:
    """The inverse of :func:`merge_state`: the grouped state -> N solo states.

    With ``views`` the tensors are views of the grouped ones (no device memory for a copy; for a caller that
    copies them at once, e.g. into host memory for a checkpoint, or into the solo networks)."""
    if isinstance(state, torch.Tensor):
        if state.dim() == 0:
            return [state if views else state.clone() for _ in range(members)]
        return [part if views else part.clone() for part in state.chunk(members, 0)]
    if isinstance(state, dict):
        parts = {k: split_state(v, members, views) for k, v in state.items()}
        return [{k: parts[k][m] for k in state} for m in range(members)]
    if isinstance(state, (list, tuple)):
        parts_list = [split_state(v, members, views) for v in state]
        return [type(state)(p[m] for p in parts_list) for m in range(members)]
    return [copy.deepcopy(state) for _ in range(members)]
