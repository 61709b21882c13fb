"""``ganrepro report TABLE``: the evaluated runs of one table build as markdown beside the papers' numbers."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a table's metrics (every row x seed) as markdown with figures",
        description="Read every run of TABLE for --dataset/--profile (metrics.json, config, provenance, loss log, "
        "evaluation images) and write the report to each --out, figures into --figures. Files whose "
        "content is unchanged are not rewritten. A missing run is an error: no row is left out.",
    )
    parser.add_argument("table", help="a table name from params/tables/ (e.g. pix2pix_ablation)")
    parser.add_argument("--dataset", required=True, help="dataset the table was built on (e.g. facades)")
    parser.add_argument("--profile", required=True, help="profile name from params/profiles/ (e.g. paper)")
    parser.add_argument("--data-dir", default="data", help="data folder of the build (default: data)")
    parser.add_argument(
        "--out",
        required=True,
        action="append",
        metavar="PATH",
        help="markdown file to write; repeat to write the same report to several places "
        "(image links are made relative to each)",
    )
    parser.add_argument("--figures", required=True, metavar="DIR", help="folder for the report's PNG figures")
    parser.add_argument(
        "--mlflow-parent",
        default=None,
        metavar="JSON",
        help="the table build's MLflow parent-run file; the report files are logged to that run",
    )
    parser.set_defaults(func=run)

    copy = subparsers.add_parser(
        "report-copy",
        help="copy a rendered report and its figures folder elsewhere (atomically)",
        description="Copy REPORT and its FIGURES folder to --out and --figures as they are (no rendering): the "
        "workflow writes a build's report once and copies it to reports/TABLE.md this way. The "
        "figures folder keeps its name, so the report's relative links resolve in the copy.",
    )
    copy.add_argument("report", help="the rendered markdown report")
    copy.add_argument("figures_dir", metavar="figures", help="its figures folder")
    copy.add_argument("--out", required=True, metavar="PATH", help="where the report's copy goes")
    copy.add_argument(
        "--figures",
        required=True,
        metavar="DIR",
        help="where the figures' copy goes (a folder of the same name beside --out)",
    )
    copy.set_defaults(func=run_copy)


def run_copy(args: argparse.Namespace) -> int:
    from ganrepro.workflow.publish import copy_report

    count = copy_report(Path(args.report), Path(args.figures_dir), Path(args.out), Path(args.figures))
    print(f"copied {args.report} and {count - 1} figure(s) -> {args.out}, {args.figures}")
    return 0


def run(args: argparse.Namespace) -> int:
    from ganrepro.reporting import build_report
    from ganrepro.workflow.plan import Plan

    plan = Plan(args.dataset, args.profile, args.data_dir)
    plan.table(args.table)  # an unknown table fails here, naming the known ones
    result = build_report(plan, args.table, [Path(p) for p in args.out], Path(args.figures))
    unchanged = len(result.files) - len(result.written)
    print(
        f"report {args.table} ({args.dataset}/{args.profile}): {len(result.written)} file(s) written, "
        f"{unchanged} unchanged -> {', '.join(args.out)}"
    )
    if args.mlflow_parent:
        from ganrepro.tracking import log_report

        log_report(args.mlflow_parent, [str(p) for p in result.files])
    return 0
