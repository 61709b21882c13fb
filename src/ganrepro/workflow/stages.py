"""A table build as an ordered list of stages: each job's name, command, inputs and outputs, from the plan.

The Snakefile schedules the same jobs through its rules (whose commands come from the same
:class:`~ganrepro.workflow.plan.Plan` methods); anything that runs a build without Snakemake — ``ganrepro
dvc-yaml``, or a plain loop over :func:`build_stages` — reads this list, so every runner executes the same
command lines.  The order is a valid execution order: a stage comes after every stage that writes its deps.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganrepro.workflow.plan import Plan

#: Stage kinds whose outputs are small files (JSON, markdown, figures) rather than models.
SMALL_OUTPUTS = frozenset({"evaluate", "evaluate-released", "track-parent", "track", "report", "latest-report"})


@dataclass(frozen=True)
class Stage:
    """One job: ``cmd`` reads ``deps`` and writes ``outs`` (paths relative to the project root).

    ``kind`` is download | prepare | segmenter | import-released | evaluate-released | train | train-pack |
    evaluate | track-parent | track | report | latest-report; ``table`` and ``runs`` ((row, seed) pairs) say
    which table and runs it is about."""

    name: str
    kind: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    table: str | None = None
    runs: tuple[tuple[str, int], ...] = ()


def build_stages(plan: Plan) -> list[Stage]:
    """Every stage of every table of ``plan``, in an order that runs each stage after its inputs' stages."""
    stages = _data_stages(plan)
    for table in plan.tables:  # every table's training first: a table may read runs another table trains
        stages += _training_stages(plan, table)
    for table in plan.tables:
        stages += _reporting_stages(plan, table)
    return stages


def _data_stages(plan: Plan) -> list[Stage]:
    stages = []
    if plan.archives:
        stages.append(Stage(f"download-{plan.dataset}", "download", plan.download_command(), (), tuple(plan.archives)))
    stages.append(
        Stage(f"prepare-{plan.dataset}", "prepare", plan.prepare_command(), tuple(plan.archives), (plan.manifest,))
    )
    for size in sorted({plan.crop_size(t) for t in plan.tables}):
        stages.append(
            Stage(
                f"segmenter-{plan.profile.segmenter_arch}-{size}",
                "segmenter",
                plan.segmenter_command(size),
                (plan.manifest,),
                (plan.segmenter_checkpoint(size),),
            )
        )
    released = plan.released
    for rid in released.entries:
        stages.append(
            Stage(
                f"import-released-{rid}",
                "import-released",
                released.import_command(rid),
                (plan.manifest,),
                (released.final_checkpoint(rid),),
            )
        )
        stages.append(
            Stage(
                f"evaluate-released-{rid}",
                "evaluate-released",
                released.evaluate_command(rid),
                (released.final_checkpoint(rid), released.segmenter_checkpoint(rid)),
                (released.metrics_json(rid),),
            )
        )
    return stages


def _training_stages(plan: Plan, table: str) -> list[Stage]:
    """Training (one stage per pack, or per run alone) and evaluation of the runs the table owns
    (:meth:`~ganrepro.workflow.plan.Plan.owns`)."""
    spec, stages = plan.table(table), []
    for pack in plan.packs(table):
        solo = len(pack.members) == 1
        name = (
            f"train-{table}-{pack.members[0][0]}-seed{pack.members[0][1]}"
            if solo
            else f"train-pack-{table}-{pack.name}"
        )
        stages.append(
            Stage(
                name,
                "train" if solo else "train-pack",
                plan.training_command(pack),
                (plan.manifest, *dict.fromkeys(spec.row_base_config(row) for row, _ in pack.members)),
                tuple(plan.final_checkpoint(table, row, seed) for row, seed in pack.members),
                table,
                pack.members,
            )
        )
        for row, seed in pack.members:
            stages.append(
                Stage(
                    f"evaluate-{table}-{row}-seed{seed}",
                    "evaluate",
                    plan.evaluate_command(table, row, seed),
                    (plan.final_checkpoint(table, row, seed), *plan.run_segmenters(table, row, seed)),
                    (plan.metrics_json(table, row, seed),),
                    table,
                    ((row, seed),),
                )
            )
    return stages


def _reporting_stages(plan: Plan, table: str) -> list[Stage]:
    """MLflow (a child per run, shared runs included), then the two reports."""
    stages = [
        Stage(
            f"track-parent-{table}",
            "track-parent",
            plan.track_parent_command(table),
            (),
            (plan.mlflow_parent(table),),
            table,
        )
    ]
    runs = tuple(plan.runs(table))
    for row, seed in runs:
        stages.append(
            Stage(
                f"track-{table}-{row}-seed{seed}",
                "track",
                plan.track_run_command(table, row, seed),
                (plan.metrics_json(table, row, seed), plan.mlflow_parent(table)),
                (plan.mlflow_child(table, row, seed),),
                table,
                ((row, seed),),
            )
        )
    # The report reads all of the table (sections, labels, the paper's numbers) and the profile.
    stages.append(
        Stage(
            f"report-{table}",
            "report",
            plan.report_command(table),
            (
                *dict.fromkeys(plan.metrics_json(table, r, s) for r, s in runs),  # shared runs: their owners'
                *(plan.mlflow_child(table, r, s) for r, s in runs),
                *plan.released.metrics_files(table),
                plan.mlflow_parent(table),
                spec_path("tables", table),
                spec_path("profiles", plan.profile_name),
            ),
            (plan.report_copy(table), plan.figures_dir(table)),
            table,
            runs,
        )
    )
    stages.append(
        Stage(
            f"latest-report-{table}",
            "latest-report",
            plan.latest_report_command(table),
            (plan.report_copy(table), plan.figures_dir(table)),
            (plan.report(table), plan.latest_figures_dir(table)),
            table,
        )
    )
    return stages


def spec_path(kind: str, name: str) -> str:
    """params/{kind}/{name}.yaml, relative to the project root (as dvc.yaml and the stages name files)."""
    return f"params/{kind}/{name}.yaml"
