"""``ganrepro dvc-yaml`` (dvc.yaml from the plan) and ``ganrepro plan`` (list a build's runs and commands)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_build_options(parser: argparse.ArgumentParser) -> None:
    """--dataset, --profile, --data-dir, --mirror and --pack: which build a command is about (see build_plan)."""
    from ganrepro.workflow.plan import DEFAULT_DATASET, DEFAULT_PROFILE

    parser.add_argument("--dataset", default=DEFAULT_DATASET, help=f"dataset name (default {DEFAULT_DATASET})")
    parser.add_argument(
        "--profile", default=DEFAULT_PROFILE, help=f"profile in params/profiles/ (default {DEFAULT_PROFILE})"
    )
    parser.add_argument("--data-dir", default="data", help="data folder (default data)")
    parser.add_argument("--mirror", default=None, help="base URL holding the dataset's archives")
    parser.add_argument(
        "--pack",
        default=None,
        metavar="MODE[:N]",
        help="pack runs as none, seeds or compatible (max N a pack) instead of the profile's pack:",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    dvc = subparsers.add_parser(
        "dvc-yaml",
        help="write dvc.yaml: the Snakefile's jobs as DVC stages",
        description="Generates dvc.yaml from params/ (the same commands as the Snakefile).",
    )
    add_build_options(dvc)
    dvc.add_argument("--out", default="dvc.yaml", help="file to write (default dvc.yaml; - for stdout)")
    dvc.add_argument("--check", action="store_true", help="exit 1 if --out differs from what would be generated")
    dvc.set_defaults(func=run_dvc_yaml)

    plan = subparsers.add_parser(
        "plan",
        help="list a table build's runs, its packs and each training job's command",
        description="What `snakemake` would run for one dataset and profile, from params/.",
    )
    add_build_options(plan)
    plan.add_argument("--table", default=None, help="only this table")
    plan.set_defaults(func=run_plan)


def build_plan(args: argparse.Namespace):
    """The validated Plan that :func:`add_build_options` name."""
    from ganrepro.workflow.plan import Plan

    plan = Plan(args.dataset, args.profile, args.data_dir, args.mirror, args.pack)
    plan.validate()
    _ = plan.pack_policy  # a bad --pack fails here, before anything is written
    return plan


def run_dvc_yaml(args: argparse.Namespace) -> int:
    import shlex

    from ganrepro.atomic import write_text
    from ganrepro.workflow.dvc import build_flags, render_dvc_yaml

    plan = build_plan(args)
    text = render_dvc_yaml(plan)
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if args.check:
        current = out.read_text() if out.is_file() else None
        if current != text:
            print(
                f"{out} is out of date with params/; regenerate with "
                f"`{shlex.join(['ganrepro', 'dvc-yaml', *build_flags(plan)])}`",
                file=sys.stderr,
            )
            return 1
        print(f"{out} matches params/")
        return 0
    write_text(out, text)
    print(f"wrote {out}")
    return 0


def run_plan(args: argparse.Namespace) -> int:
    from ganrepro.workflow.packs import pack_resources

    plan = build_plan(args)
    tables = [args.table] if args.table else list(plan.tables)
    policy = plan.pack_policy
    packing = f"packs: {policy.mode}, at most {policy.max_size} runs a pack" if policy.packing else "packs: none"
    print(f"dataset {plan.dataset}, profile {plan.profile_name}: {plan.profile.description}\n{packing}")
    for table in tables:
        runs, packs = list(plan.runs(table)), plan.packs(table)
        print(
            f"\n{table}: {len(plan.table(table).rows)} rows x {len(plan.profile.seeds)} seeds = {len(runs)} runs "
            f"in {len(packs)} training jobs"
        )
        for pack in packs:
            members = ", ".join(f"{row}/seed{seed}" for row, seed in pack.members)
            if len(pack.members) > 1:
                job = pack_resources(plan, pack)
                gpus = f"{job['gpu']} GPU, " if job["gpu"] else ""
                kind = (
                    f"pack {pack.name} ({len(pack.members)} runs; the job asks {gpus}{job['runtime']} min, "
                    f"{job['mem_mb']} MB)"
                )
            else:
                kind = "alone"
            print(f"  {kind}: {members}\n    {plan.training_command(pack)}")
        for row, seed in runs:
            if not plan.owns(table, row, seed):
                owner = plan.run_id(*plan.trained_as(table, row, seed))
                print(f"  shared: {row}/seed{seed} is {owner} (the same resolved config, trained and evaluated once)")
    return 0
