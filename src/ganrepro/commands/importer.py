"""``ganrepro import-checkpoint``: a released generator of the PyTorch port as a run directory to evaluate."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

URL_SCHEMES = ("http://", "https://", "file://")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-checkpoint", help="turn a released generator (.pth of the PyTorch port) into a run directory",
        description="Match the port's state_dict to the named architecture by layer order (shapes checked), run one "
                    "forward pass, and write RUN_DIR (config.yaml, checkpoints/final.pt, provenance.json with the "
                    "source and its sha256) for `ganrepro evaluate`. Released models come from the port, so the "
                    "config defaults to reference=pytorch and network.dropout=pytorch.")
    parser.add_argument("file", metavar="FILE", help="the generator's state_dict: a path, or an http(s)/file URL")
    parser.add_argument("--arch", required=True, help="generator name, e.g. unet_256 or resnet_9blocks")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to create")
    parser.add_argument("--g-b", default=None, metavar="FILE", help="CycleGAN: the B->A generator (G_B) as well")
    parser.add_argument("--config", action="append", default=None, metavar="FILE",
                        help="base config (default params/pix2pix.yaml, or params/cyclegan.yaml for resnet_*)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set data.root=data/facades/prepared")
    parser.add_argument("--sha256", default=None, help="expected sha256 of FILE (checked before anything is written)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ganrepro.config import load_config
    from ganrepro.errors import UserError
    from ganrepro.training.importer import import_generators

    resnet = args.arch.startswith("resnet")
    configs = args.config or [f"params/{'cyclegan' if resnet else 'pix2pix'}.yaml"]
    defaults = ["reference=pytorch", "network.dropout=pytorch", f"network.generator={args.arch}"]
    config = load_config(configs, [*defaults, *args.overrides])
    if config.model == "pix2pix" and args.g_b:
        raise UserError("--g-b is for CycleGAN generators; a pix2pix run has one generator")
    names = {"G_A" if config.model == "cyclegan" else "G": args.file, **({"G_B": args.g_b} if args.g_b else {})}
    with tempfile.TemporaryDirectory(prefix="ganrepro-import-") as scratch:
        files = {name: _local(source, Path(scratch), args.sha256 if name in ("G", "G_A") else None)
                 for name, source in names.items()}
        out = import_generators(config, files, Path(args.out), {k: str(v) for k, v in names.items()})
    print(f"imported {', '.join(names)} ({args.arch}) -> {out}")
    return 0


def _local(source: str, scratch: Path, sha256: str | None) -> Path:
    """A local copy of ``source`` (URLs go through the datasets' download code), checked against ``sha256``."""
    from ganrepro.datasets.transfer import fetch
    from ganrepro.errors import UserError
    from ganrepro.hashing import sha256_file

    if source.startswith(URL_SCHEMES):
        path = scratch / (Path(source.split("?")[0]).name or "checkpoint.pth")
        fetch(source, path, label=path.name)
    else:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"checkpoint not found: {path}")
    if sha256 and sha256_file(path) != sha256.lower():
        raise UserError(f"{source}: sha256 {sha256_file(path)} does not match --sha256 {sha256}")
    return path
