"""``ganrepro track start|log``: record a table build in MLflow (one parent run, one child per trained run)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "track",
        help="log a table build to MLflow: its parent run, then each evaluated run as a child",
        description="Log table builds to MLflow: experiment ganrepro/TABLE, one parent run per "
        "(dataset, profile), one child per (row, seed). The store is $MLFLOW_TRACKING_URI, else "
        "sqlite:///<current directory>/mlflow.db; browse it with "
        "`mlflow ui --backend-store-uri <that URI>`.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    start = actions.add_parser(
        "start",
        help="create the parent run of TABLE's build; write its record to --out",
        description="Create the MLflow database and experiment if needed, then a "
        "finished parent run for TABLE on DATASET with PROFILE.",
    )
    start.add_argument("table", metavar="TABLE", help="table name (params/tables/TABLE.yaml)")
    start.add_argument("--dataset", required=True, help="dataset the build trains on")
    start.add_argument("--profile", required=True, help="profile name (params/profiles/PROFILE.yaml)")
    start.add_argument("--out", required=True, metavar="JSON", help="parent record to write (mlflow_parent.json)")
    start.set_defaults(func=run_start)

    log = actions.add_parser(
        "log",
        help="log an evaluated RUN_DIR as a child of the parent in --parent",
        description="Log RUN_DIR's config, loss curves, final metrics and files as the "
        "child run 'ROW seedSEED'; an earlier child of the same key is "
        "replaced.",
    )
    log.add_argument("run_dir", metavar="RUN_DIR", help="training run directory, evaluated")
    log.add_argument("--parent", required=True, metavar="JSON", help="parent record written by `track start`")
    log.add_argument("--table", required=True, help="table the run belongs to")
    log.add_argument("--row", required=True, help="row id of the run in the table")
    log.add_argument("--seed", required=True, type=int, help="seed of the run")
    log.add_argument("--out", required=True, metavar="JSON", help="child record to write (RUN_DIR/mlflow.json)")
    log.set_defaults(func=run_log)


def _mlflow_errors_as_user_errors(call: Callable[[], Any]) -> Any:
    """MLflow's own errors (unreachable server, bad URI, rejected value) are reported as one line."""
    from mlflow.exceptions import MlflowException

    from ganrepro.errors import UserError

    try:
        return call()
    except MlflowException as err:
        raise UserError(f"MLflow: {err.message}") from None


def run_start(args: argparse.Namespace) -> int:
    from ganrepro.tracking import start_parent

    record = _mlflow_errors_as_user_errors(lambda: start_parent(args.table, args.dataset, args.profile, args.out))
    print(
        f"parent run {record.parent_run_id} '{record.table} {record.dataset}/{record.profile}' in experiment "
        f"{record.experiment_name} (id {record.experiment_id}) at {record.tracking_uri} -> {args.out}"
    )
    return 0


def run_log(args: argparse.Namespace) -> int:
    from ganrepro.tracking import log_run

    record = _mlflow_errors_as_user_errors(
        lambda: log_run(args.run_dir, args.parent, args.table, args.row, args.seed, args.out)
    )
    print(
        f"child run {record.run_id} '{args.row} seed{args.seed}' ({record.key}) under parent "
        f"{record.parent_run_id} in experiment {record.experiment_id} at {record.tracking_uri} -> {args.out}"
    )
    return 0
