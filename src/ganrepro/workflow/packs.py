"""Which runs of a table train together as packs, and the ``ganrepro train-pack`` command of each pack.

``mode`` chooses the grouping:

- ``none``: every run alone (one ``ganrepro train`` job each);
- ``seeds``: the seeds of one row together (they differ only in ``seed``);
- ``compatible``: every run of the table joins the first pack it is packable with
  (:func:`~ganrepro.training.packing.check_packable`: same shapes and update rule, differing only in seed and
  scalar loss weights), e.g. pix2pix's λ rows with the L1+cGAN row and their seeds.

Packs hold at most ``max_size`` members; the order of rows and seeds in the table is kept, so the grouping of a
table is stable from one build to the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganrepro.config import Config
from ganrepro.errors import ConfigError
from ganrepro.training.packing import check_packable
from ganrepro.workflow.profile import PACK_MODES

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
