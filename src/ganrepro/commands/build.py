"""``ganrepro build TABLE``: one table build without Snakemake, for machines that have torch but not the
workflow tools (see :mod:`ganrepro.workflow.runner`)."""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from ganrepro.commands.pipeline import add_build_options, build_plan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build a table's report without Snakemake: every stage of the plan, in order, like make",
        description="Run the stages TABLE's report needs (download, prepare, segmenter, train, evaluate, track, "
        "report: the command lines Snakemake and dvc.yaml run) in dependency order, skipping those "
        "whose outputs exist and are newer than their inputs, and print the wall time per stage kind. "
        "Run it from the repository root. MLflow records are made only when mlflow is installed.",
    )
    parser.add_argument("table", help="a table name from params/tables/ (e.g. pix2pix_ablation)")
    add_build_options(parser)
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="stages run at once when their inputs are ready (default 1); on one GPU, a few "
        "packs or evaluations side by side fill it better than one",
    )
    parser.add_argument(
        "--no-track", action="store_true", help="leave out the MLflow records even if mlflow is installed"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands that would run, in order, and stop")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ganrepro.errors import UserError
    from ganrepro.workflow.runner import execute, plan_stages, stale_stages, time_table

    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    plan = build_plan(args)
    tracking = not args.no_track and importlib.util.find_spec("mlflow") is not None
    if not tracking:
        print(
            "tracking skipped: "
            + ("--no-track" if args.no_track else "mlflow is not installed")
            + "; the report is written without MLflow records"
        )
    stages = plan_stages(plan, args.table, tracking=tracking)
    root = Path.cwd()
    todo = stale_stages(stages, root)
    print(
        f"build {args.table} ({args.dataset}/{args.profile}): {len(todo)} of {len(stages)} stage(s) to run, "
        f"{len(stages) - len(todo)} up to date"
    )
    if args.dry_run:
        for stage in todo:
            print(stage.command)
        return 0
    started = time.time()
    times = execute(todo, root, jobs=args.jobs)
    print("\n".join(time_table(times, time.time() - started)))
    print(f"report: {plan.report_copy(args.table)}")
    return 0
