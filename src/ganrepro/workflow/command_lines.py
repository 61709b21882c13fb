"""Every job of a table build as a ``ganrepro`` command line: how each stage of a :class:`Plan` runs.

The plan (:mod:`ganrepro.workflow.plan`) says what runs and where every file goes; this module turns that into
command lines, one per job.  The Snakefile's rules run them (``params: cmd=``) and
:mod:`ganrepro.workflow.stages` lists the same ones as stages for ``ganrepro dvc-yaml``, so the two DAGs cannot
disagree on a command line.  Each line appends its output to the job's log through ``ganrepro --log``.

:class:`CommandLines` is a base class of :class:`~ganrepro.workflow.plan.Plan` (its methods are called as
``plan.train_command(…)``); every method reads the plan's params and paths, hence ``self: Plan``.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ganrepro.runfiles import FINAL_CHECKPOINT

if TYPE_CHECKING:
    from ganrepro.workflow.packs import Pack
    from ganrepro.workflow.plan import Plan


def assignments(overrides: dict[str, Any]) -> list[str]:
    """``key=value`` strings as ``--set`` parses them back (YAML scalars: true, null, 0.5, text)."""

    def text(value: Any) -> str:
        return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return [f"{key}={text(value)}" for key, value in overrides.items()]


def set_flags(overrides: dict[str, Any]) -> list[str]:
    """``--set key=value`` for each override, as separate arguments."""
    return [arg for item in assignments(overrides) for arg in ("--set", item)]


def logged(argv: list[str], log: str) -> str:
    """The command line, its output appended to ``log`` by ``ganrepro --log`` (which creates the folder, so
    the same line runs under Snakemake and DVC)."""
    assert argv[0] == "ganrepro"
    return shlex.join(["ganrepro", "--log", log, *argv[1:]])


class CommandLines:
    """The command lines of a :class:`~ganrepro.workflow.plan.Plan`'s jobs (a base class of it)."""

    def download_command(self: Plan) -> str:
        argv = ["ganrepro", "download", self.dataset, "--data-dir", self.data_dir]
        if self.mirror:
            argv += ["--mirror", self.mirror]
        return logged(argv, self.log("download", self.dataset))

    def prepare_command(self: Plan) -> str:
        return logged(
            ["ganrepro", "prepare", self.dataset, "--data-dir", self.data_dir], self.log("prepare", self.dataset)
        )

    def segmenter_command(self: Plan, size: int) -> str:
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
        return logged(argv, self.log("segmenter", f"{p.segmenter_arch}-{size}"))

    def fcn_arguments(self: Plan, training: bool = False) -> list[str]:
        """The profile's FCN-score protocol for ``segmenter train`` (with its training crop) and ``evaluate``."""
        argv = ["--fcn-protocol", self.profile.fcn_protocol]
        if training and self.profile.fcn_train_crop is not None:
            argv += ["--train-crop", str(self.profile.fcn_train_crop)]
        return argv

    def train_command(self: Plan, table: str, row: str, seed: int) -> str:
        table, row, seed = self.trained_as(table, row, seed)
        argv = [
            "ganrepro",
            "train",
            "--config",
            self.table(table).row_base_config(row),
            *set_flags(self.overrides(table, row, seed)),
            "--device",
            self.profile.device,
            "--no-progress",
            "--out",
            self.run_dir(table, row, seed),
        ]
        return logged(argv, self.log(table, row, f"seed{seed}", "train"))

    def evaluate_argv(
        self: Plan, run_dir: str, segmenter: list[str], metrics: list[str], reverse: bool = False
    ) -> list[str]:
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

    def train_pack_command(self: Plan, pack: Pack) -> str:
        """``ganrepro train-pack`` for ``pack``: each member's run directory and its full overrides."""
        table = pack.table
        members = [
            shlex.join([self.run_dir(table, row, seed), *assignments(self.overrides(table, row, seed))])
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
        return logged(argv, self.pack_log(pack))

    def training_command(self: Plan, pack: Pack) -> str:
        """The job that trains ``pack``: ``ganrepro train`` for a run alone, ``train-pack`` for several."""
        if len(pack.members) == 1:
            return self.train_command(pack.table, *pack.members[0])
        return self.train_pack_command(pack)

    def evaluate_command(self: Plan, table: str, row: str, seed: int) -> str:
        """One evaluation of the run that trains this one, scoring what every table sharing it shows."""
        table, row, seed = self.trained_as(table, row, seed)
        argv = self.evaluate_argv(
            self.run_dir(table, row, seed),
            [arg for path in self.run_segmenters(table, row, seed) for arg in ("--segmenter", path)],
            self.run_metrics(table, row, seed),
            self.scores_reverse(table, row, seed),
        )
        return logged(argv, self.log(table, row, f"seed{seed}", "evaluate"))

    def track_parent_command(self: Plan, table: str) -> str:
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
        return logged(argv, self.log(table, "mlflow_parent"))

    def track_run_command(self: Plan, table: str, row: str, seed: int) -> str:
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
        return logged(argv, self.log(table, row, f"seed{seed}", "mlflow"))

    def report_command(self: Plan, table: str) -> str:
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
        return logged(argv, self.log(table, "report"))

    def latest_report_command(self: Plan, table: str) -> str:
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
        return logged(argv, self.log(table, "latest_report"))
