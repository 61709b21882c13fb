"""``ganrepro train-pack``: train several packable configs together as one grouped model, one run directory each."""

from __future__ import annotations

import argparse
import shlex
import sys

from ganrepro.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-pack",
        help="train N runs that differ only in seed / loss weights together on one device",
        description="Train a pack: every --member is one run (its run directory and its own overrides on top of "
        "the shared --config/--set). The members must differ only in seed, pix2pix.lambda_l1, "
        "cyclegan.lambda_A/lambda_B/lambda_identity (and the CycleGAN cycle switches without batch "
        "norm). Each run directory is an ordinary one; re-running the same command resumes the pack.",
    )
    parser.add_argument(
        "--config",
        required=True,
        action="append",
        metavar="FILE",
        help="YAML config shared by every member; repeat to layer files, later ones win",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key for every member (dotted, repeatable)",
    )
    parser.add_argument(
        "--member",
        action="append",
        required=True,
        metavar="'RUN_DIR [KEY=VALUE ...]'",
        help="one member: its run directory, then its own overrides, in one quoted argument, "
        "e.g. --member 'runs/l10-seed1 seed=1 pix2pix.lambda_l1=10'; repeat per member",
    )
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda or cuda:N")
    parser.add_argument(
        "--stop-after-epoch",
        type=int,
        default=None,
        metavar="N",
        help="stop cleanly once N epochs are done (the same command without it continues)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def parse_member(text: str) -> tuple[str, list[str]]:
    """``'RUN_DIR key=value ...'`` -> (RUN_DIR, overrides)."""
    try:
        parts = shlex.split(text)
    except ValueError as err:
        raise UserError(f"--member {text!r} cannot be parsed ({err}); write 'RUN_DIR key=value ...'") from None
    if not parts or "=" in parts[0]:
        raise UserError(f"--member {text!r} must start with the member's run directory: 'RUN_DIR key=value ...'")
    return parts[0], parts[1:]


def run(args: argparse.Namespace) -> int:
    from ganrepro.config import load_config
    from ganrepro.training.pack import train_pack

    members = [parse_member(text) for text in args.member]
    configs = [load_config(args.config, [*args.overrides, *extra]) for _, extra in members]
    result = train_pack(
        configs,
        [run_dir for run_dir, _ in members],
        args.device,
        stop_after_epoch=args.stop_after_epoch,
        progress_bar=not args.no_progress and sys.stderr.isatty(),
    )
    p = result.progress
    state = "finished" if result.completed else "stopped (run the same command to continue)"
    print(f"{state}: {p.epoch} epochs, {p.step} steps -> {', '.join(map(str, result.run_dirs))}")
    return 0 if result.completed or args.stop_after_epoch is not None else 3
