"""Every job of a table build as a path and a ``ganrepro`` command line: the one place both DAGs come from.

A :class:`Plan` is (dataset, profile, data folder, optional mirror, optional pack override).  For each table
it expands rows × seeds into training runs, groups them into packs (the profile's ``pack:``) and says where
every file goes::

    data/{dataset}/raw/…, data/{dataset}/prepared/manifest.json         download, prepare
    results/{dataset}/{profile}/segmenter/{arch}-{size}/segmenter.pt     the FCN-score's scorer
    results/{dataset}/{profile}/{table}/{row}/seed{seed}/                one training run (RUN_DIR), packed or not
        checkpoints/final.pt, eval/test-trainmode/metrics.json, mlflow.json
    results/{dataset}/{profile}/{table}/mlflow_parent.json               the table build's MLflow parent run
    reports/{dataset}/{profile}/{table}.md (+ figures in …/{table}/)     the build's report
    reports/{table}.md (+ figures in reports/{table}/)                   its copy, the file usually asked for
    reports/published/{dataset}/{profile}/{table}.md (+ …/{table}/)      published: no job reads or writes it
                                                                         (``ganrepro publish``)

Everything but ``reports/published/`` is a build product, ignored by git, so that a fresh clone has none of
it and the workflow builds everything.  The Snakefile's rules run the commands built here (``params: cmd=``)
and :mod:`ganrepro.workflow.stages` lists the same commands as stages for ``ganrepro dvc-yaml``, so the two
DAGs cannot disagree on a command line.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ganrepro.config import Config, ConfigError, load_config
from ganrepro.metrics import METRIC_NAMES
from ganrepro.runfiles import CHECKPOINTS_DIR, FINAL_CHECKPOINT, METRICS_FILE
from ganrepro.workflow.checks import available
from ganrepro.workflow.packs import Pack, table_packs
from ganrepro.workflow.profile import PackPolicy, Profile, load_profile, parse_pack
from ganrepro.workflow.spec import Table, load_table

if TYPE_CHECKING:
    from ganrepro.workflow.released import ReleasedModels

DEFAULT_DATASET = "facades"
DEFAULT_PROFILE = "paper"
#: Committed reports. No workflow rule or DVC stage names a path in here, so they can neither make a build
#: look up to date nor be deleted by a failed job.
PUBLISHED = "reports/published"


def _assignments(overrides: dict[str, Any]) -> list[str]:
    """``key=value`` strings as ``--set`` parses them back (YAML scalars: true, null, 0.5, text)."""

    def text(value: Any) -> str:
        return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return [f"{key}={text(value)}" for key, value in overrides.items()]


def _sets(overrides: dict[str, Any]) -> list[str]:
    return [arg for item in _assignments(overrides) for arg in ("--set", item)]


def _logged(argv: list[str], log: str) -> str:
    """The command line, its output appended to ``log`` by ``ganrepro --log`` (which creates the folder, so
    the same line runs under Snakemake and DVC)."""
    assert argv[0] == "ganrepro"
    return shlex.join(["ganrepro", "--log", log, *argv[1:]])


@dataclass(frozen=True)
class Plan:
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

    def set_arguments(self, table: str, row: str, seed: int) -> str:
        """The ``--set key=value`` arguments of one run, as one shell-quoted string (for the Snakefile)."""
        return shlex.join(_sets(self.overrides(table, row, seed)))

    def config(self, table: str, row: str, seed: int) -> Config:
        """The resolved, validated config of one run (what ``ganrepro train`` will build)."""
        return load_config([self.table(table).row_base_config(row)], _assignments(self.overrides(table, row, seed)))

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

    def crop_size(self, table: str) -> int:
        """The resolution every row of ``table`` trains at (one per table: see :meth:`validate`)."""
        return self._crop_sizes[table]

    @cached_property
    def _crop_sizes(self) -> dict[str, int]:
        seed = self.profile.seeds[0]
        return {t: self.config(t, next(iter(spec.rows)), seed).data.crop_size for t, spec in self.tables.items()}

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

    def run_id(self, table: str, row: str, seed: int) -> str:
        """A run's path under :attr:`results`: ``{table}/{row}/seed{seed}``."""
        return f"{table}/{row}/seed{seed}"

    def run_dir(self, table: str, row: str, seed: int) -> str:
        return f"{self.results}/{self.run_id(table, row, seed)}"

    def final_checkpoint(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/{CHECKPOINTS_DIR}/{FINAL_CHECKPOINT}"

    def metrics_json(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/{METRICS_FILE}"

    def mlflow_child(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/mlflow.json"

    def mlflow_parent(self, table: str) -> str:
        return f"{self.results}/{table}/mlflow_parent.json"

    def log(self, *parts: str) -> str:
        return f"{self.results}/logs/{'/'.join(parts)}.log"

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

    # ------------------------------------------------------------------------------------------ the commands

    def download_command(self) -> str:
        argv = ["ganrepro", "download", self.dataset, "--data-dir", self.data_dir]
        if self.mirror:
            argv += ["--mirror", self.mirror]
        return _logged(argv, self.log("download", self.dataset))

    def prepare_command(self) -> str:
        return _logged(
            ["ganrepro", "prepare", self.dataset, "--data-dir", self.data_dir], self.log("prepare", self.dataset)
        )

    def segmenter_command(self, size: int) -> str:
        p = self.profile
        argv = [
            "ganrepro",
            "segmenter",
            "train",
            self.dataset,
            "--data-dir",
            self.data_dir,
            "--arch",
            p.segmenter_arch,
            "--size",
            str(size),
            "--epochs",
            str(p.segmenter_epochs),
            *self.fcn_arguments(training=True),
            "--device",
            p.device,
            "--out",
            self.segmenter_dir(size),
        ]
        return _logged(argv, self.log("segmenter", f"{p.segmenter_arch}-{size}"))

    def fcn_arguments(self, training: bool = False) -> list[str]:
        """The profile's FCN-score protocol for ``segmenter train`` (with its training crop) and ``evaluate``."""
        argv = ["--fcn-protocol", self.profile.fcn_protocol]
        if training and self.profile.fcn_train_crop is not None:
            argv += ["--train-crop", str(self.profile.fcn_train_crop)]
        return argv

    def train_command(self, table: str, row: str, seed: int) -> str:
        argv = [
            "ganrepro",
            "train",
            "--config",
            self.table(table).row_base_config(row),
            *_sets(self.overrides(table, row, seed)),
            "--device",
            self.profile.device,
            "--no-progress",
            "--out",
            self.run_dir(table, row, seed),
        ]
        return _logged(argv, self.log(table, row, f"seed{seed}", "train"))

    def evaluate_argv(self, run_dir: str, segmenter: list[str], metrics: list[str], reverse: bool = False) -> list[str]:
        """``ganrepro evaluate`` of one run directory: the same protocol for every row and released model."""
        return [
            "ganrepro",
            "evaluate",
            run_dir,
            "--checkpoint",
            FINAL_CHECKPOINT,
            *segmenter,
            *self.fcn_arguments(),
            "--metrics",
            ",".join(metrics),
            "--skip-unavailable",
            *(["--reverse"] if reverse else []),
            "--device",
            self.profile.device,
        ]

    def train_pack_command(self, pack: Pack) -> str:
        """``ganrepro train-pack`` for ``pack``: each member's run directory and its full overrides."""
        table = pack.table
        members = [
            shlex.join([self.run_dir(table, row, seed), *_assignments(self.overrides(table, row, seed))])
            for row, seed in pack.members
        ]
        argv = [
            "ganrepro",
            "train-pack",
            "--config",
            self.table(pack.table).row_base_config(pack.members[0][0]),
            *[arg for member in members for arg in ("--member", member)],
            "--device",
            self.profile.device,
            "--no-progress",
        ]
        return _logged(argv, self.pack_log(pack))

    def pack_log(self, pack: Pack) -> str:
        return self.log(pack.table, "packs", pack.name, "train")

    def training_command(self, pack: Pack) -> str:
        """The job that trains ``pack``: ``ganrepro train`` for a run alone, ``train-pack`` for several."""
        if len(pack.members) == 1:
            return self.train_command(pack.table, *pack.members[0])
        return self.train_pack_command(pack)

    def segmenter_inputs(self, table: str) -> list[str]:
        """The segmenter an evaluation of ``table`` reads: none when no section shows FCN-scores."""
        return [self.segmenter_checkpoint(self.crop_size(table))] if self.table(table).needs_segmenter else []

    def segmenter_arguments(self, table: str) -> list[str]:
        return [arg for path in self.segmenter_inputs(table) for arg in ("--segmenter", path)]

    def evaluation_metrics(self, table: str) -> list[str]:
        """The profile's metrics and those the table's sections show (e.g. labelmap for photo→labels)."""
        wanted = {*self.profile.metrics, *self.table(table).section_metrics}
        return [m for m in METRIC_NAMES if m in wanted]

    def evaluate_command(self, table: str, row: str, seed: int) -> str:
        argv = self.evaluate_argv(
            self.run_dir(table, row, seed),
            self.segmenter_arguments(table),
            self.evaluation_metrics(table),
            self.table(table).scores_reverse(row),
        )
        return _logged(argv, self.log(table, row, f"seed{seed}", "evaluate"))

    def track_parent_command(self, table: str) -> str:
        argv = [
            "ganrepro",
            "track",
            "start",
            table,
            "--dataset",
            self.dataset,
            "--profile",
            self.profile_name,
            "--out",
            self.mlflow_parent(table),
        ]
        return _logged(argv, self.log(table, "mlflow_parent"))

    def track_run_command(self, table: str, row: str, seed: int) -> str:
        argv = [
            "ganrepro",
            "track",
            "log",
            self.run_dir(table, row, seed),
            "--parent",
            self.mlflow_parent(table),
            "--table",
            table,
            "--row",
            row,
            "--seed",
            str(seed),
            "--out",
            self.mlflow_child(table, row, seed),
        ]
        return _logged(argv, self.log(table, row, f"seed{seed}", "mlflow"))

    def report_command(self, table: str) -> str:
        """The build's report (:meth:`report_copy` and its figures), logged to the build's MLflow parent run."""
        argv = [
            "ganrepro",
            "report",
            table,
            "--dataset",
            self.dataset,
            "--profile",
            self.profile_name,
            "--data-dir",
            self.data_dir,
            "--out",
            self.report_copy(table),
            "--figures",
            self.figures_dir(table),
            "--mlflow-parent",
            self.mlflow_parent(table),
        ]
        return _logged(argv, self.log(table, "report"))

    def latest_report_command(self, table: str) -> str:
        """Copies the build's report and figures to :meth:`report` and :meth:`latest_figures_dir`.

        A step of its own, whose input is the build's report: when ``reports/{table}.md`` already holds another
        build's copy, asking for it with this build's config still builds this build (Snakemake counts a
        requested file that exists as done unless an input of its own job is to be made)."""
        argv = [
            "ganrepro",
            "report-copy",
            self.report_copy(table),
            self.figures_dir(table),
            "--out",
            self.report(table),
            "--figures",
            self.latest_figures_dir(table),
        ]
        return _logged(argv, self.log(table, "latest_report"))
