"""Which runs of a table train together as packs, and the ``ganrepro train-pack`` command of each pack.

``mode`` chooses the grouping:

- ``none``: every run alone (one ``ganrepro train`` job each);
- ``seeds``: the seeds of one row together (they differ only in ``seed``);
- ``compatible``: every run of the table joins the first pack it is packable with
  (:func:`~ganrepro.training.packing.check_packable`: same shapes and update rule, differing only in seed and
  scalar loss weights), e.g. pix2pix's λ rows with the L1+cGAN row and their seeds.

Packs hold at most ``max_size`` members; the order of rows and seeds in the table is kept, so the grouping of a
table is stable from one build to the next.

What a training job asks of a cluster (:func:`job_resources`: SLURM ``--gpus``, ``--time``, ``--mem``) starts from
the profile's per-job figures, which size one run.  A pack on a GPU runs its members' steps as one grouped step,
so it keeps the run's time limit, and asks for one more checkpoint snapshot of host memory per extra member (the
writer copies every member's state to host memory at once).  A pack without a GPU gains nothing from grouping:
its members cost what they would one after another, so it asks N times a run's time and memory.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganrepro.config import Config
from ganrepro.errors import ConfigError
from ganrepro.training.packing import check_packable
from ganrepro.workflow.profile import PACK_MODES, Profile

if TYPE_CHECKING:  # the plan asks for its packs; this module only reads its runs and configs
    from ganrepro.workflow.plan import Plan


@dataclass(frozen=True)
class Pack:
    """The runs (row, seed) of one table trained together, in table order."""

    table: str
    members: tuple[tuple[str, int], ...]

    @property
    def name(self) -> str:
        """A stable name for logs and job ids: the first member and the size."""
        row, seed = self.members[0]
        return f"{row}-seed{seed}+{len(self.members) - 1}" if len(self.members) > 1 else f"{row}-seed{seed}"

    @property
    def job_name(self) -> str:
        """The Snakemake rule of this pack (an identifier: SLURM job names and ``--allowed-rules`` take it)."""
        return re.sub(r"\W", "_", f"train_pack_{self.table}_{self.name}")


def _packable(configs: list[Config]) -> bool:
    try:
        check_packable(configs)
    except ConfigError:
        return False
    return True


def table_packs(plan: Plan, table: str, mode: str, max_size: int) -> list[Pack]:
    """The table's runs grouped into packs (see the module docstring)."""
    if mode not in PACK_MODES:
        raise ConfigError(f"pack = {mode!r} is not allowed; choose one of: {', '.join(PACK_MODES)}")
    if max_size < 1:
        raise ConfigError(f"the maximum pack size must be at least 1, got {max_size}")
    groups: list[list[tuple[tuple[str, int], Config]]] = []
    for row, seed in plan.runs(table):
        if not plan.owns(table, row, seed):  # trained as another table's (or row's) identical run
            continue
        config = plan.config(table, row, seed)
        target = None
        for group in groups:
            if len(group) >= max_size or mode == "none":
                continue
            first_row, _ = group[0][0]
            if (mode == "seeds" and first_row == row) or (mode == "compatible" and _packable([group[0][1], config])):
                target = group
                break
        if target is None:
            groups.append([((row, seed), config)])
        else:
            target.append(((row, seed), config))
    return [Pack(table, tuple(run for run, _ in group)) for group in groups]


def job_resources(profile: Profile, members: int = 1, member_state_bytes: int = 0) -> dict[str, int]:
    """Snakemake ``resources:`` of a training job of ``members`` runs, each holding ``member_state_bytes`` of
    training state (see the module docstring)."""
    resources = {"gpu": profile.gpus_per_job, "runtime": profile.runtime_min, "mem_mb": profile.mem_mb}
    if members == 1:
        return resources
    if profile.gpus_per_job == 0:
        return {**resources, "runtime": profile.runtime_min * members, "mem_mb": profile.mem_mb * members}
    return {**resources, "mem_mb": profile.mem_mb + (members - 1) * math.ceil(member_state_bytes / 2**20)}


def pack_resources(plan: Plan, pack: Pack) -> dict[str, int]:
    """:func:`job_resources` of ``pack``'s job (members share their networks' shapes, so the first one's state
    size is every member's)."""
    from ganrepro.training.trainer import state_bytes  # torch: only when a pack is sized

    size = state_bytes(plan.config(pack.table, *pack.members[0])) if len(pack.members) > 1 else 0
    return job_resources(plan.profile, len(pack.members), size)
