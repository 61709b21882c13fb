"""The authors' released generators in a table build: which apply, where they go, and their two commands.

A table section may name released models (``released:`` in params/tables/*.yaml, checked by
:mod:`ganrepro.workflow.spec`).  In a build they become two jobs each, beside the trained rows::

    results/{dataset}/{profile}/released/{id}/                 the imported run directory (RUN_DIR)
        checkpoints/final.pt                                   ``ganrepro import-checkpoint`` (fetch + verify + import)
        eval/test-trainmode/metrics.json                       ``ganrepro evaluate``, the rows' own command line

A released model applies only where the build's dataset is its dataset and the table's resolution is the one
it was trained at; elsewhere (the generated set, a 64 px profile) it is skipped and the report says why.  Its
config is the table's base config with the runs' own ``data.*`` keys (the same test images, resize and
direction) and the released network's keys, so the evaluation differs from a row's only in the generator.
The file is fetched by the datasets' download code: ``--mirror`` serves it from ``MIRROR/released/{id}/``; a
published sha256 is checked before anything is written, and without one the first fetch pins the hash in
``{data_dir}/datasets.lock.json`` ("trust on first use", as for dataset archives).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ganrepro.config import Config, ConfigError, load_config
from ganrepro.metrics import METRIC_NAMES
from ganrepro.workflow.spec import Released

if TYPE_CHECKING:
    from ganrepro.workflow.plan import Plan

#: The folder under a build's results holding the imported released models (never a table name).
RELEASED_DIR = "released"


@dataclass(frozen=True)
class Skipped:
    """A released model a section names that this build does not evaluate, and why."""

    entry: Released
    reason: str


class ReleasedModels:
    """The released models of one :class:`~ganrepro.workflow.plan.Plan`: paths and command lines by id."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    # ------------------------------------------------------------------------------------------ which apply

    @cached_property
    def declared(self) -> dict[str, tuple[Released, str]]:
        """Every released model named anywhere, by id, with the first table naming it (whose data keys it
        takes); one id names one model, so two different entries under the same id are refused."""
        out: dict[str, tuple[Released, str]] = {}
        for name, spec in self.plan.tables.items():
            if name == RELEASED_DIR:
                raise ConfigError(
                    f"{spec.path}: a table may not be called {RELEASED_DIR!r} (the released models' folder in results/)"
                )
            for section in spec.sections:
                for entry in section.released:
                    known = out.get(entry.id)
                    if known is not None and known[0] != entry:
                        raise ConfigError(
                            f"{spec.path}: sections[{section.id}].released: id {entry.id!r} is declared "
                            f"differently in table {known[1]!r}; one id, one model"
                        )
                    out.setdefault(entry.id, (entry, name))
        return out

    def skip_reason(self, entry: Released) -> str | None:
        """Why this build does not evaluate ``entry`` (None: it does)."""
        if entry.dataset != self.plan.dataset:
            return f"trained on {entry.dataset}; this build is {self.plan.dataset}"
        size = self.plan.crop_size(self.declared[entry.id][1])
        if size != entry.size:
            return f"trained at {entry.size}×{entry.size}; this build generates at {size}×{size}"
        return None

    @cached_property
    def entries(self) -> dict[str, Released]:
        """The released models this build evaluates, by id."""
        return {rid: entry for rid, (entry, _) in self.declared.items() if self.skip_reason(entry) is None}

    def for_table(self, table: str) -> list[Released]:
        """The released models evaluated for ``table``, each once, in section order."""
        found = {e.id: e for s in self.plan.table(table).sections for e in s.released if e.id in self.entries}
        return list(found.values())

    def skipped(self, released: tuple[Released, ...]) -> list[Skipped]:
        return [Skipped(e, reason) for e in released if (reason := self.skip_reason(e)) is not None]

    def entry(self, rid: str) -> Released:
        if rid not in self.entries:
            raise ConfigError(
                f"no released model {rid!r} applies to {self.plan.dataset}/{self.plan.profile_name}"
                + (f"; applicable: {', '.join(self.entries)}" if self.entries else "")
            )
        return self.entries[rid]

    # ------------------------------------------------------------------------------------------ the config

    def overrides(self, rid: str) -> dict[str, Any]:
        """The import's ``--set`` keys: the runs' ``data.*`` keys, then the released network's own keys."""
        entry, table = self.entry(rid), self.declared[rid][1]
        row, seed = next(iter(self.plan.table(table).rows)), self.plan.profile.seeds[0]
        data = {k: v for k, v in self.plan.overrides(table, row, seed).items() if k.startswith("data.")}
        return {**data, **entry.set}

    def config(self, rid: str) -> Config:
        """The config ``import-checkpoint`` writes into the run directory (what the report checks it against)."""
        from ganrepro.commands.importer import import_defaults
        from ganrepro.workflow.plan import _assignments

        entry, table = self.entry(rid), self.declared[rid][1]
        sets = [*import_defaults(entry.arch), *_assignments(self.overrides(rid))]
        return load_config([self.plan.table(table).base_config], sets)

    def validate(self) -> None:
        """Each model names a known dataset (else it would silently never apply); each applicable model's
        config resolves, and it reads the test split exactly as the table's rows."""
        from ganrepro.preparation.registry import load_registry

        known = load_registry()
        for rid, (entry, table) in self.declared.items():
            if entry.dataset not in known:
                raise ConfigError(
                    f"{self.plan.table(table).path}: released {rid!r}: dataset {entry.dataset!r} is not "
                    f"in params/datasets.yaml (known: {', '.join(sorted(known))})"
                )
            if rid not in self.entries:
                continue
            ours = self.plan.config(table, next(iter(self.plan.table(table).rows)), self.plan.profile.seeds[0])
            if self.config(rid).data != ours.data:
                raise ConfigError(
                    f"{self.plan.table(table).path}: released {rid!r} would read other data than the "
                    "table's rows; remove data keys from its set"
                )

    # ------------------------------------------------------------------------------------------ the paths

    def run_dir(self, rid: str) -> str:
        return f"{self.plan.results}/{RELEASED_DIR}/{rid}"

    def final_checkpoint(self, rid: str) -> str:
        return f"{self.run_dir(rid)}/checkpoints/final.pt"

    def metrics_json(self, rid: str) -> str:
        return f"{self.run_dir(rid)}/eval/test-trainmode/metrics.json"

    def metrics_files(self, table: str) -> list[str]:
        """What the report of ``table`` reads besides its rows."""
        return [self.metrics_json(e.id) for e in self.for_table(table)]

    def mirror_base(self, rid: str) -> str | None:
        """Where the build's mirror holds this model: ``MIRROR/released/{id}/{file name}``."""
        return f"{self.plan.mirror.rstrip('/')}/{RELEASED_DIR}/{rid}" if self.plan.mirror else None

    def source_name(self, rid: str) -> str:
        entry = self.entry(rid)
        return PurePosixPath(urlsplit(entry.source).path if entry.is_url else entry.source).name

    # ------------------------------------------------------------------------------------------ the commands

    def import_command(self, rid: str) -> str:
        """Fetch (verified, mirror honoured), import into the run directory: one ``import-checkpoint``."""
        from ganrepro.workflow.plan import _logged, _sets

        entry, table = self.entry(rid), self.declared[rid][1]
        argv = [
            "ganrepro",
            "import-checkpoint",
            entry.source,
            "--arch",
            entry.arch,
            "--config",
            self.plan.table(table).base_config,
            *_sets(self.overrides(rid)),
            "--data-dir",
            self.plan.data_dir,
        ]
        if entry.sha256:
            argv += ["--sha256", entry.sha256]
        mirror = self.mirror_base(rid)
        if mirror and entry.is_url:
            argv += ["--mirror", mirror]
        argv += ["--out", self.run_dir(rid)]
        return _logged(argv, self.plan.log(RELEASED_DIR, rid, "import"))

    def evaluate_command(self, rid: str) -> str:
        """The rows' evaluation command line (:meth:`Plan.evaluate_argv`) on the imported run directory."""
        from ganrepro.workflow.plan import _logged

        segmenter = ["--segmenter", self.plan.segmenter_checkpoint(self.entry(rid).size)]
        naming = [t for t in self.plan.tables if any(e.id == rid for e in self.for_table(t))]
        wanted = {m for t in naming for m in self.plan.evaluation_metrics(t)}  # what the rows beside it get
        metrics = [m for m in METRIC_NAMES if m in wanted]
        argv = self.plan.evaluate_argv(self.run_dir(rid), segmenter, metrics)
        return _logged(argv, self.plan.log(RELEASED_DIR, rid, "evaluate"))
