"""``ganrepro publish TABLE``: copy a complete build's report and figures to reports/published/ (committed)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="copy a complete build's report and figures to reports/published/DATASET/PROFILE/",
        description="Render TABLE's report again from the build's runs for --dataset/--profile; if it equals "
        "the build's report and figures (reports/DATASET/PROFILE/) byte for byte, replace the "
        "published copy in reports/published/DATASET/PROFILE/ with it. A missing run, a run "
        "trained with other settings, or a partial or out-of-date build is refused and the "
        "published files stay as they were. The workflow never reads or writes reports/published/.",
    )
    parser.add_argument("tables", nargs="+", metavar="TABLE", help="table name(s) from params/tables/")
    parser.add_argument("--dataset", required=True, help="dataset the table was built on (e.g. facades)")
    parser.add_argument("--profile", required=True, help="profile of the build (e.g. paper)")
    parser.add_argument("--data-dir", default="data", help="data folder of the build (default: data)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ganrepro.workflow.plan import Plan
    from ganrepro.workflow.publish import publish

    plan = Plan(args.dataset, args.profile, args.data_dir)
    for table in args.tables:
        plan.table(table)  # an unknown table fails before anything is published
    for table in args.tables:
        done = publish(plan, table)
        state = f"published ({done.files} files)" if done.changed else "already published, unchanged"
        print(f"{table} ({args.dataset}/{args.profile}): {state} -> {done.report}")
    return 0
