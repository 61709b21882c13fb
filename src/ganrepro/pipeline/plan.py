"""Every job of a table build as a path and a ``ganrepro`` command line: the one place both DAGs come from.

A :class:`Plan` is (dataset, profile, data folder, optional mirror).  For each table it expands rows × seeds
into training runs and says where every file goes::

    data/{dataset}/raw/…, data/{dataset}/prepared/manifest.json         download, prepare
    results/{dataset}/{profile}/segmenter/{arch}-{size}/segmenter.pt     the FCN-score's scorer
    results/{dataset}/{profile}/{table}/{row}/seed{seed}/                one training run (RUN_DIR)
        checkpoints/final.pt, eval/test-trainmode/metrics.json, mlflow.json
    results/{dataset}/{profile}/{table}/mlflow_parent.json               the table build's MLflow parent run
    reports/{dataset}/{profile}/{table}.md (+ figures in …/{table}/) and reports/{table}.md   the build's report
    reports/published/{dataset}/{profile}/{table}.md (+ figures in …/{table}/)   published: no job reads or
                                                                                 writes it (``ganrepro publish``)

Everything but ``reports/published/`` is a build product, ignored by git, so that a fresh clone has none of
it and the workflow builds everything.  The Snakefile rules and ``ganrepro dvc-yaml`` both take their command lines from here, so the two can only
differ if one of them is edited by hand — which the parity test catches.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ganrepro.config import Config, ConfigError, load_config
from ganrepro.pipeline.spec import EVAL_METRICS, Profile, Table, available, load_profile, load_table

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
            raise ConfigError(f"{spec.path}: row {row!r} and profile {self.profile_name!r} both set {clash[0]}; "
                              "rows choose the ablation, profiles the scale, never the same key")
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
                raise ConfigError(f"table {table}: rows resolve to different crop sizes {sorted(sizes)} on "
                                  f"{self.dataset}/{self.profile_name}; one scorer scores one size")

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
        from ganrepro.datasets.registry import get_spec

        spec = get_spec(self.dataset)
        return [f"{self.data_dir}/{self.dataset}/raw/{a.file}" for a in spec.archives]

    def segmenter_dir(self, size: int) -> str:
        return f"{self.results}/segmenter/{self.profile.segmenter_arch}-{size}"

    def segmenter_checkpoint(self, size: int) -> str:
        return f"{self.segmenter_dir(size)}/segmenter.pt"

    def run_dir(self, table: str, row: str, seed: int) -> str:
        return f"{self.results}/{table}/{row}/seed{seed}"

    def final_checkpoint(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/checkpoints/final.pt"

    def metrics_json(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/eval/test-trainmode/metrics.json"

    def mlflow_child(self, table: str, row: str, seed: int) -> str:
        return f"{self.run_dir(table, row, seed)}/mlflow.json"

    def mlflow_parent(self, table: str) -> str:
        return f"{self.results}/{table}/mlflow_parent.json"

    def log(self, *parts: str) -> str:
        return f"{self.results}/logs/{'/'.join(parts)}.log"

    def report(self, table: str) -> str:
        """The latest build's report, whatever its dataset and profile (the file usually asked for)."""
        return f"reports/{table}.md"

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
        return _logged(["ganrepro", "prepare", self.dataset, "--data-dir", self.data_dir],
                       self.log("prepare", self.dataset))

    def segmenter_command(self, size: int) -> str:
        p = self.profile
        argv = ["ganrepro", "segmenter", "train", self.dataset, "--data-dir", self.data_dir, "--arch", p.segmenter_arch,
                "--size", str(size), "--epochs", str(p.segmenter_epochs), *self.fcn_arguments(training=True),
                "--device", p.device, "--out", self.segmenter_dir(size)]
        return _logged(argv, self.log("segmenter", f"{p.segmenter_arch}-{size}"))

    def fcn_arguments(self, training: bool = False) -> list[str]:
        """The profile's FCN-score protocol for ``segmenter train`` (with its training crop) and ``evaluate``."""
        argv = ["--fcn-protocol", self.profile.fcn_protocol]
        if training and self.profile.fcn_train_crop is not None:
            argv += ["--train-crop", str(self.profile.fcn_train_crop)]
        return argv

    def train_command(self, table: str, row: str, seed: int) -> str:
        argv = ["ganrepro", "train", "--config", self.table(table).row_base_config(row), *_sets(self.overrides(table, row, seed)),
                "--device", self.profile.device, "--no-progress", "--out", self.run_dir(table, row, seed)]
        return _logged(argv, self.log(table, row, f"seed{seed}", "train"))

    def segmenter_inputs(self, table: str) -> list[str]:
        """The segmenter an evaluation of ``table`` reads: none when no section shows FCN-scores."""
        return [self.segmenter_checkpoint(self.crop_size(table))] if self.table(table).needs_segmenter else []

    def segmenter_arguments(self, table: str) -> list[str]:
        return [arg for path in self.segmenter_inputs(table) for arg in ("--segmenter", path)]

    def evaluation_metrics(self, table: str) -> list[str]:
        """The profile's metrics and those the table's sections show (e.g. labelmap for photo→labels)."""
        wanted = {*self.profile.metrics, *self.table(table).section_metrics}
        return [m for m in EVAL_METRICS if m in wanted]

    def evaluate_command(self, table: str, row: str, seed: int) -> str:
        argv = ["ganrepro", "evaluate", self.run_dir(table, row, seed), "--checkpoint", "final.pt",
                *self.segmenter_arguments(table), *self.fcn_arguments(),
                "--metrics", ",".join(self.evaluation_metrics(table)), "--skip-unavailable",
                *(["--reverse"] if self.table(table).scores_reverse(row) else []), "--device", self.profile.device]
        return _logged(argv, self.log(table, row, f"seed{seed}", "evaluate"))

    def track_parent_command(self, table: str) -> str:
        argv = ["ganrepro", "track", "start", table, "--dataset", self.dataset, "--profile", self.profile_name,
                "--out", self.mlflow_parent(table)]
        return _logged(argv, self.log(table, "mlflow_parent"))

    def track_run_command(self, table: str, row: str, seed: int) -> str:
        argv = ["ganrepro", "track", "log", self.run_dir(table, row, seed), "--parent", self.mlflow_parent(table),
                "--table", table, "--row", row, "--seed", str(seed), "--out", self.mlflow_child(table, row, seed)]
        return _logged(argv, self.log(table, row, f"seed{seed}", "mlflow"))

    def report_command(self, table: str) -> str:
        """The build's report (:meth:`report_copy` and its figures), logged to the build's MLflow parent run."""
        argv = ["ganrepro", "report", table, "--dataset", self.dataset, "--profile", self.profile_name,
                "--data-dir", self.data_dir, "--out", self.report_copy(table), "--figures", self.figures_dir(table),
                "--mlflow-parent", self.mlflow_parent(table)]
        return _logged(argv, self.log(table, "report"))

    def latest_report_command(self, table: str) -> str:
        """The same report as :meth:`report` (``reports/{table}.md``, linking to the build's figures).

        A step of its own, whose input is the build's report: when ``reports/{table}.md`` already holds another
        build's copy, asking for it with this build's config still builds this build (Snakemake counts a
        requested file that exists as done unless an input of its own job is to be made)."""
        argv = ["ganrepro", "report", table, "--dataset", self.dataset, "--profile", self.profile_name,
                "--data-dir", self.data_dir, "--out", self.report(table), "--figures", self.figures_dir(table)]
        return _logged(argv, self.log(table, "latest_report"))
