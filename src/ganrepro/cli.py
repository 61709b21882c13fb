"""The single `ganrepro` command line.

Every module in :mod:`ganrepro.commands` defines one or more subcommands through a
``register(subparsers)`` function that adds its parser and sets ``func`` (the handler, called with the
parsed arguments, returning an exit code).  Command modules import heavy libraries (torch, ...) inside
their handlers so that ``ganrepro --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ganrepro import __version__, commands
from ganrepro.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganrepro",
        description="Regenerate the pix2pix and CycleGAN ablation tables: download, prepare, train, evaluate, report.",
    )
    parser.add_argument("--version", action="version", version=f"ganrepro {__version__}")
    parser.add_argument(
        "--log",
        default=None,
        metavar="FILE",
        help="append everything the command prints (stdout and stderr) to FILE instead of the terminal",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.log:
            redirect_output(Path(args.log))
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"ganrepro {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        # A path the user gave that cannot be read or written (a folder for a file, no permission, a full
        # disk): one line naming the file, not a traceback.  Errors without a file name are bugs: re-raised.
        if err.filename is None:
            raise
        print(f"ganrepro {args.command}: error: {err.filename}: {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganrepro {args.command}: interrupted", file=sys.stderr)
        return 130


def redirect_output(log: Path) -> None:
    """Point file descriptors 1 and 2 (so also child processes and C libraries) at ``log``, appending: a job's
    log keeps every attempt, e.g. a training run and its resumptions."""
    if log.is_dir():
        raise UserError(f"--log {log} is a folder; give a file name")
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--log {log}: cannot create its folder ({err.strerror or err})") from None
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
