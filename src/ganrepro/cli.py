"""The single `ganrepro` command line.

Every module in :mod:`ganrepro.commands` defines one or more subcommands through a
``register(subparsers)`` function that adds its parser and sets ``func`` (the handler, called with the
parsed arguments, returning an exit code).  Command modules import heavy libraries (torch, ...) inside
their handlers so that ``ganrepro --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from ganrepro import __version__, commands
from ganrepro.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganrepro",
        description="Regenerate the pix2pix and CycleGAN ablation tables: download, prepare, train, evaluate, report.",
    )
    parser.add_argument("--version", action="version", version=f"ganrepro {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"ganrepro {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganrepro {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
