"""Which runs can share one grouped network: the packability rule, in one place.

Members of a pack are trained as one grouped network (:mod:`ganrepro.models.grouped`) with one update rule, so
they must agree on everything that shapes the networks, the data, the schedule and the update rule.  They may
differ only in

- ``seed`` (weights, data order, jitter, pool);
- the scalar loss weights: ``pix2pix.lambda_l1``; ``cyclegan.lambda_A``, ``lambda_B``, ``lambda_identity``;
- which CycleGAN cycle and identity terms are on (``forward_cycle``, ``backward_cycle``, ``lambda_identity`` 0 or
  not), unless the networks use batch norm: a term that is off in a solo run skips a forward pass, which would
  otherwise move batch norm's running statistics.

``pix2pix.gan`` stays fixed (conditional and unconditional discriminators take different input channels; ``none``
builds none), as does ``cyclegan.use_gan``.  WGAN-GP's penalty draws its interpolation weights from the global
random stream, which a pack cannot split per member, so ``gan_mode: wgangp`` is not packable.
"""

from __future__ import annotations

from typing import Any

from ganrepro.config import Config
from ganrepro.errors import ConfigError

#: keys whose values may differ between the members of a pack
FREE_KEYS: frozenset[str] = frozenset(
    {
        "seed",
        "pix2pix.lambda_l1",
        "cyclegan.lambda_A",
        "cyclegan.lambda_B",
        "cyclegan.lambda_identity",
    }
)
#: keys that may differ unless the networks use batch norm
TERM_SWITCHES: frozenset[str] = frozenset({"cyclegan.forward_cycle", "cyclegan.backward_cycle"})


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_packable(configs: list[Config], labels: list[str] | None = None) -> None:
    """Raise :class:`ConfigError` naming the first key (and the members) that keeps ``configs`` out of one pack."""
    if not configs:
        raise ConfigError("a pack needs at least one member")
    labels = labels or [f"member {i}" for i in range(len(configs))]
    first = configs[0]
    objective = first.objective
    if getattr(objective, "gan_mode", None) == "wgangp":
        raise ConfigError(
            f"{first.model}.gan_mode = wgangp cannot be packed (its gradient penalty draws from the "
            "global random stream); train these runs one by one with ganrepro train"
        )
    base = flatten(first.to_dict())
    batch_norm = first.network.norm == "batch"
    for label, config in zip(labels[1:], configs[1:]):
        other = flatten(config.to_dict())
        for key in sorted(set(base) | set(other)):
            if base.get(key) == other.get(key) or key in FREE_KEYS:
                continue
            if key in TERM_SWITCHES and not batch_norm and first.model == "cyclegan":
                continue
            raise ConfigError(
                f"{label} differs from {labels[0]} in {key} ({other.get(key)!r} vs "
                f"{base.get(key)!r}): not packable; members may differ only in "
                f"{', '.join(sorted(FREE_KEYS | TERM_SWITCHES))}"
            )
        if (
            first.model == "cyclegan"
            and batch_norm
            and (config.cyclegan.lambda_identity > 0) != (first.cyclegan.lambda_identity > 0)
        ):
            raise ConfigError(
                f"{label} differs from {labels[0]} in cyclegan.lambda_identity (0 vs not 0) with "
                "network.norm = batch: not packable (the identity term's forward pass moves batch "
                "norm's running statistics)"
            )
