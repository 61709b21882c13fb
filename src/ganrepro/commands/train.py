"""``ganrepro train``: train one config into one run directory (resuming it if it holds a checkpoint)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a pix2pix or CycleGAN config into RUN_DIR (resumes from its latest checkpoint)",
        description="Train one config. Re-running the same command on the same RUN_DIR resumes exactly; "
        "a RUN_DIR holding another config's run is refused.",
    )
    parser.add_argument(
        "--config",
        required=True,
        action="append",
        metavar="FILE",
        help="YAML config (e.g. params/pix2pix.yaml); repeat to layer files, later ones win "
        "(e.g. --config params/pix2pix.yaml --config my-small.yaml)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (dotted, repeatable), e.g. --set train.n_epochs=5",
    )
    parser.add_argument("--out", required=True, help="run directory")
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


def run(args: argparse.Namespace) -> int:
    from ganrepro.config import load_config
    from ganrepro.training.trainer import train

    config = load_config(args.config, args.overrides)
    result = train(
        config,
        args.out,
        args.device,
        stop_after_epoch=args.stop_after_epoch,
        progress_bar=not args.no_progress and sys.stderr.isatty(),
    )
    p = result.progress
    state = "finished" if result.completed else "stopped (run the same command to continue)"
    print(f"{state}: {p.epoch} epochs, {p.step} steps -> {result.run_dir}")
    return 0 if result.completed or args.stop_after_epoch is not None else 3
