"""Every job of a table build: its runs, packs and paths, and (through its base class) its command line.

A :class:`Plan` is (dataset, profile, data folder, optional mirror, optional pack override).  For each table
it expands rows × seeds into training runs, groups them into packs (the profile's ``pack:``) and says where
every file goes::

    data/{dataset}/raw/…, data/{dataset}/prepared/manifest.json         download, prepare
    results/{dataset}/{profile}/segmenter/{arch}-{size}/segmenter.pt     the FCN-score's scorer
    results/{dataset}/{profile}/{table}/{row}/seed{seed}/                one training run (RUN_DIR), packed or not
        checkpoints/final.pt, eval/test-trainmode/metrics.json, mlflow.json (a row whose resolved config is
        another table's run is that run, :meth:`Plan.trained_as`: its folder holds only its mlflow.json)
    results/{dataset}/{profile}/{table}/mlflow_parent.json               the table build's MLflow parent run
    reports/{dataset}/{profile}/{table}.md (+ figures in …/{table}/)     the build's report
    reports/{table}.md (+ figures in reports/{table}/)                   its copy, the file usually asked for
    reports/published/{dataset}/{profile}/{table}.md (+ …/{table}/)      published: no job reads or writes it
                                                                         (``ganrepro publish``)

Everything but ``reports/published/`` is a build product, ignored by git, so that a fresh clone has none of
it and the workflow builds everything.  The Snakefile's rules name the files named here, and run the command
lines that :class:`~ganrepro.workflow.command_lines.CommandLines` (a base class of :class:`Plan`) builds from
them (``params: cmd=``); :mod:`ganrepro.workflow.stages` lists the same commands as stages for ``ganrepro
dvc-yaml``, so the two DAGs cannot disagree on a file or a command line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ganrepro.config import Config, ConfigError, load_config
from ganrepro.metrics import METRIC_NAMES
from ganrepro.runfiles import CHECKPOINTS_DIR, FINAL_CHECKPOINT, METRICS_FILE
from ganrepro.workflow.checks import available
from ganrepro.workflow.command_lines import CommandLines, assignments
from ganrepro.workflow.packs import Pack, table_packs
from ganrepro.workflow.profile import PackPolicy, Profile, load_profile, parse_pack
from ganrepro.workflow.spec import Table, load_table

if TYPE_CHECKING:
    from ganrepro.workflow.released import ReleasedModels

#: (table, row, seed): one run of a table.
RunKey = tuple[str, str, int]
DEFAULT_DATASET = "facades"
DEFAULT_PROFILE = "paper"
#: Committed reports. No workflow rule or DVC stage names a path in here, so they can neither make a build
#: look up to date nor be deleted by a failed job.
PUBLISHED = "reports/published"


@dataclass(frozen=True)
class Plan(CommandLines):
    dataset: str = DEFAULT_DATASET
    profile_name: str = DEFAULT_PROFILE
    data_dir: str = "data"
    mirror: str | None = None
    pack: str | None = None  # MODE or MODE:N instead of the profile's ``pack:`` (``--config pack=…``)

    # ------------------------------------------------------------------------------------------ the params

    @cached_property
    def profile(self) -> Profile:
        return load_profile(self.profile_name)

    @cached_property
    def tables(self) -> dict[str, Table]:
        return {name: load_table(name) for name in available("tables")}

    def table(self, name: str) -> Table:
        if name not in self.tables:
            raise ConfigError(f"unknown table {name!r}; known: {', '.join(self.tables)}")
        return self.tables[name]

    @cached_property
    def released(self) -> ReleasedModels:
        """The authors' released models the tables name, as far as this build evaluates them."""
        from ganrepro.workflow.released import ReleasedModels

        return ReleasedModels(self)

    def overrides(self, table: str, row: str, seed: int) -> dict[str, Any]:
        """Dotted overrides of one run, in the order applied: data root, profile, row, seed."""
        spec = self.table(table)
        profile = self.profile.overrides(spec.row_model(row), self.dataset)
        if spec.row_model(row) != spec.model:  # a row of another model trains at the table's resolution
            scale = self.profile.overrides(spec.model, self.dataset)
            profile.update({k: v for k, v in scale.items() if k.startswith("data.")})
        row_overrides = spec.row_overrides(row)
        clash = sorted(set(profile) & set(row_overrides))
        if clash:
            raise ConfigError(
                f"{spec.path}: row {row!r} and profile {self.profile_name!r} both set {clash[0]}; "
                "rows choose the ablation, profiles the scale, never the same key"
            )
        return {"data.root": self.prepared_dir, **profile, **row_overrides, "seed": seed}

    def config(self, table: str, row: str, seed: int) -> Config:
        """The resolved, validated config of one run (what ``ganrepro train`` will build)."""
        return load_config([self.table(table).row_base_config(row)], assignments(self.overrides(table, row, seed)))

    def validate(self) -> None:
        """Resolve every run's config now, so a bad row or profile fails before any job starts."""
        for table in self.tables:
            sizes = {self.config(table, row, seed).data.crop_size for row, seed in self.runs(table)}
            if len(sizes) != 1:
                raise ConfigError(
                    f"table {table}: rows resolve to different crop sizes {sorted(sizes)} on "
                    f"{self.dataset}/{self.profile_name}; one scorer scores one size"
                )
        self.released.validate()

    @cached_property
    def pack_policy(self) -> PackPolicy:
        """The profile's ``pack:``, or the build's override of it (which keeps the profile's maximum size)."""
        if self.pack is None:
            return self.profile.pack
        size = self.profile.pack.max_size if self.profile.pack.max_size > 1 else None
        return parse_pack(self.pack, f"pack {self.pack!r} (instead of {self.profile.path}'s)", size)

    def packs(self, table: str) -> list[Pack]:
        """The table's training jobs: packs of runs trained together, and runs alone (packs of one)."""
        return self._packs[table]

    @cached_property
    def _packs(self) -> dict[str, list[Pack]]:
        policy = self.pack_policy
        mode = policy.mode if policy.packing else "none"
        return {table: table_packs(self, table, mode, policy.max_size) for table in self.tables}

    def solo_runs(self) -> dict[str, Pack]:
        """Every run that trains alone (``ganrepro train``), all tables, by ``{table}/{row}/seed{seed}``."""
        return {
            self.run_id(pack.table, *pack.members[0]): pack
            for table in self.tables
            for pack in self.packs(table)
            if len(pack.members) == 1
        }

    def packed(self) -> list[Pack]:
        """The packs of more than one run (``ganrepro train-pack``), all tables."""
        return [pack for table in self.tables for pack in self.packs(table) if len(pack.members) > 1]

    def runs(self, table: str) -> Iterator[tuple[str, int]]:
        for row in self.table(table).rows:
            for seed in self.profile.seeds:
                yield row, seed

    # ------------------------------------------------------------------------ runs that several rows share

    @cached_property
    def _owners(self) -> dict[RunKey, RunKey]:
        """Each run of every table → the run that trains it: itself, or the first run whose resolved config is
        the same (CycleGAN Tables 2–3's pix2pix rows are pix2pix_ablation's and pix2pix_photo2labels' L1+cGAN
        runs).  A table's own model's rows come first, so pix2pix runs belong to the pix2pix tables."""
        keys = [(table, row, seed) for table in self.tables for row, seed in self.runs(table)]
        keys.sort(key=lambda k: self.table(k[0]).row_model(k[1]) != self.table(k[0]).model)  # stable
        first: dict[str, RunKey] = {}
        return {key: first.setdefault(self.config(*key).digest(), key) for key in keys}

    def trained_as(self, table: str, row: str, seed: int) -> RunKey:
        """The run that trains this one's config, whose directory, checkpoints and metrics this one's are.  A
        key that names no run (a rule's ``{table}``, ``{row}``, ``{seed}`` pattern) stands for itself."""
        return self._owners.get((table, row, seed), (table, row, seed))

    def owns(self, table: str, row: str, seed: int) -> bool:
        """Whether the run is trained and evaluated as itself (not as another table's or row's identical run)."""
        return self.trained_as(table, row, seed) == (table, row, seed)

    def sharing(self, table: str, row: str, seed: int) -> list[RunKey]:
        """Every run trained as the same run as this one (itself included), in table order."""
        owner = self.trained_as(table, row, seed)
        return [key for key, of in self._owners.items() if of == owner]

    def run_metrics(self, table: str, row: str, seed: int) -> list[str]:
        """What one evaluation of a shared run scores: every metric any table sharing it shows."""
        wanted = {m for t, _, _ in self.sharing(table, row, seed) for m in self.evaluation_metrics(t)}
        return [m for m in METRIC_NAMES if m in wanted]

    def run_segmenters(self, table: str, row: str, seed: int) -> list[str]:
        """The segmenter that evaluation reads (the same resolution for every run sharing it, or none)."""
        return list(dict.fromkeys(p for t, _, _ in self.sharing(table, row, seed) for p in self.segmenter_inputs(t)))

    def scores_reverse(self, table: str, row: str, seed: int) -> bool:
        """Whether that evaluation scores the second generator too (some table sharing the run shows it)."""
        return any(self.table(t).scores_reverse(r) for t, r, _ in self.sharing(table, row, seed))

    def crop_size(self, table: str) -> int:
        """The resolution every row of ``table`` trains at (one per table: see :meth:`validate`)."""
        return self._crop_sizes[table]

    @cached_property
    def _crop_sizes(self) -> dict[str, int]:
        seed = self.profile.seeds[0]
        return {t: self.config(t, next(iter(spec.rows)), seed).data.crop_size for t, spec in self.tables.items()}

    def evaluation_metrics(self, table: str) -> list[str]:
        """The profile's metrics and those the table's sections show (e.g. labelmap for photo→labels)."""
        wanted = {*self.profile.metrics, *self.table(table).section_metrics}
        return [m for m in METRIC_NAMES if m in wanted]

    # ------------------------------------------------------------------------------------------ the paths

    @property
    def results(self) -> str:
        return f"results/{self.dataset}/{self.profile_name}"

    @property
    def prepared_dir(self) -> str:
        return f"{self.data_dir}/{self.dataset}/prepared"

    @property
    def manifest(self) -> str:
        return f"{self.prepared_dir}/manifest.json"

    @cached_property
    def archives(self) -> list[str]:
        """The raw archive files the download stage produces ([] for the generated dataset)."""
        from ganrepro.preparation.registry import get_spec

        spec = get_spec(self.dataset)
        return [f"{self.data_dir}/{self.dataset}/raw/{a.file}" for a in spec.archives]

    def segmenter_dir(self, size: int) -> str:
        return f"{self.results}/segmenter/{self.profile.segmenter_arch}-{size}"

    def segmenter_checkpoint(self, size: int) -> str:
        return f"{self.segmenter_dir(size)}/segmenter.pt"

    def segmenter_inputs(self, table: str) -> list[str]:
        """The segmenter an evaluation of ``table`` reads: none when no section shows FCN-scores."""
        return [self.segmenter_checkpoint(self.crop_size(table))] if self.table(table).needs_segmenter else []

    def run_id(self, table: str, row: str, seed: int) -> str:
        """A run's path under :attr:`results`: ``{table}/{row}/seed{seed}``."""
        return f"{table}/{row}/seed{seed}"

    def run_dir(self, table: str, row: str, seed: int) -> str:
        """The directory of the run that trains this one (:meth:`trained_as`): its checkpoints and metrics."""
        return f"{self.results}/{self.run_id(*self.trained_as(table, row, seed))}"

    def final_checkpoint(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/{CHECKPOINTS_DIR}/{FINAL_CHECKPOINT}"

    def metrics_json(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/{METRICS_FILE}"

    def mlflow_child(self, table: str, row: str, seed: int) -> str:
        """The run's MLflow child of this table's parent: one per table even when the run is shared."""
        return f"{self.results}/{self.run_id(table, row, seed)}/mlflow.json"

    def mlflow_parent(self, table: str) -> str:
        return f"{self.results}/{table}/mlflow_parent.json"

    def log(self, *parts: str) -> str:
        return f"{self.results}/logs/{'/'.join(parts)}.log"

    def pack_log(self, pack: Pack) -> str:
        return self.log(pack.table, "packs", pack.name, "train")

    def report(self, table: str) -> str:
        """The latest build's report, whatever its dataset and profile (the file usually asked for)."""
        return f"reports/{table}.md"

    def latest_figures_dir(self, table: str) -> str:
        """The figures of :meth:`report`: copied beside it, so that its links are the build report's links."""
        return f"reports/{table}"

    def report_copy(self, table: str) -> str:
        """The build's report, kept per dataset and profile so that several builds live side by side."""
        return f"reports/{self.dataset}/{self.profile_name}/{table}.md"

    def figures_dir(self, table: str) -> str:
        return f"reports/{self.dataset}/{self.profile_name}/{table}"

    def published_report(self, table: str) -> str:
        """Where ``ganrepro publish`` puts the build's report: the same layout under reports/published/, so
        the report's relative figure links resolve unchanged."""
        return f"{PUBLISHED}/{self.dataset}/{self.profile_name}/{table}.md"

    def published_figures_dir(self, table: str) -> str:
        return f"{PUBLISHED}/{self.dataset}/{self.profile_name}/{table}"

    def figures(self, table: str) -> list[str]:
        """One sample figure and one loss-curve figure per section of the table."""
        spec = self.table(table)
        return [f"{self.figures_dir(table)}/{s.id}_{kind}.png" for s in spec.sections for kind in ("samples", "losses")]
