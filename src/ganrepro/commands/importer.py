"""``ganrepro import-checkpoint``: a released generator of the PyTorch port as a run directory to evaluate."""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.parse
from pathlib import Path

URL_SCHEMES = ("http://", "https://", "file://")
#: The checksum lock's "dataset" part for released files: their first-seen hashes are keyed by URL.
LOCK_GROUP = "released"


def import_defaults(arch: str) -> list[str]:
    """Config keys every import sets before ``--set``: released models come from the PyTorch port."""
    return ["reference=pytorch", "network.dropout=pytorch", f"network.generator={arch}"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-checkpoint",
        help="turn a released generator (.pth of the PyTorch port) into a run directory",
        description="Match the port's state_dict to the named architecture by layer order (shapes checked), run one "
        "forward pass, and write RUN_DIR (config.yaml, checkpoints/final.pt, provenance.json with the "
        "source and its sha256) for `ganrepro evaluate`. Released models come from the port, so the "
        "config defaults to reference=pytorch and network.dropout=pytorch.",
    )
    parser.add_argument("file", metavar="FILE", help="the generator's state_dict: a path, or an http(s)/file URL")
    parser.add_argument("--arch", required=True, help="generator name, e.g. unet_256 or resnet_9blocks")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to create")
    parser.add_argument("--g-b", default=None, metavar="FILE", help="CycleGAN: the B->A generator (G_B) as well")
    parser.add_argument(
        "--config",
        action="append",
        default=None,
        metavar="FILE",
        help="base config (default params/pix2pix.yaml, or params/cyclegan.yaml for resnet_*)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set data.root=data/facades/prepared",
    )
    parser.add_argument("--sha256", default=None, help="expected sha256 of FILE (checked before anything is written)")
    parser.add_argument(
        "--mirror",
        default=None,
        metavar="BASE_URL",
        help="fetch a URL's file as BASE_URL/{its file name} instead (http(s):// or file://)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DATA_DIR",
        help="without --sha256: pin a URL's first-seen sha256 in DATA_DIR/datasets.lock.json and "
        "check later fetches against it (as dataset archives are)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ganrepro.config import load_config
    from ganrepro.errors import UserError
    from ganrepro.training.importer import import_generators

    resnet = args.arch.startswith("resnet")
    configs = args.config or [f"params/{'cyclegan' if resnet else 'pix2pix'}.yaml"]
    config = load_config(configs, [*import_defaults(args.arch), *args.overrides])
    if config.model == "pix2pix" and args.g_b:
        raise UserError("--g-b is for CycleGAN generators; a pix2pix run has one generator")
    names = {"G_A" if config.model == "cyclegan" else "G": args.file, **({"G_B": args.g_b} if args.g_b else {})}
    with tempfile.TemporaryDirectory(prefix="ganrepro-import-") as scratch:
        files = {
            name: _local(source, Path(scratch) / name, args.sha256 if name in ("G", "G_A") else None, args)
            for name, source in names.items()
        }
        out = import_generators(config, files, Path(args.out), {k: str(v) for k, v in names.items()})
        for name, source in names.items():  # pinned only once imported: a file that fails cannot pin its hash
            if args.data_dir and source.startswith(URL_SCHEMES) and not (args.sha256 and name in ("G", "G_A")):
                _pin(source, files[name], Path(args.data_dir))
    print(f"imported {', '.join(names)} ({args.arch}) -> {out}")
    return 0


def _local(source: str, scratch: Path, sha256: str | None, args: argparse.Namespace) -> Path:
    """A local copy of ``source`` (URLs go through the datasets' download code), checked against ``sha256``,
    else (with ``--data-dir``) against the hash pinned at the first fetch of that URL."""
    from ganrepro.errors import UserError
    from ganrepro.hashing import sha256_file
    from ganrepro.preparation.checksums import ChecksumLock

    if source.startswith(URL_SCHEMES):
        path = _fetch(source, scratch, args.mirror)
    else:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"checkpoint not found: {path}")
    digest = sha256_file(path)
    if sha256 and digest != sha256.lower():
        raise UserError(f"{source}: sha256 {digest} does not match --sha256 {sha256}; nothing was imported")
    if not sha256 and args.data_dir and source.startswith(URL_SCHEMES):
        lock = ChecksumLock(Path(args.data_dir))
        pinned = lock.get(LOCK_GROUP, source)
        if pinned is not None and pinned.get("sha256") != digest:
            raise UserError(
                f"{source}: sha256 {digest} does not match {pinned.get('sha256')} pinned at its first "
                f"fetch in {lock.path}; nothing was imported"
            )
    return path


def _pin(source: str, path: Path, data_dir: Path) -> None:
    """Record the first-seen sha256 of ``source`` (a no-op once pinned: :func:`_local` checked it)."""
    from ganrepro.hashing import sha256_file
    from ganrepro.preparation.checksums import ChecksumLock

    lock = ChecksumLock(data_dir)
    if lock.get(LOCK_GROUP, source) is None:
        digest = sha256_file(path)
        lock.record(LOCK_GROUP, source, digest, path.stat().st_size, source)
        print(f"{source}: no published sha256; pinned {digest} in {lock.path}", file=sys.stderr)


def _fetch(url: str, scratch: Path, mirror: str | None) -> Path:
    """``url`` (or the mirror's copy of its file) into ``scratch``; offline says how to use a mirror."""
    from ganrepro.errors import DataError
    from ganrepro.preparation.download import mirror_url, resolve_mirror
    from ganrepro.preparation.transfer import OfflineError, fetch

    name = Path(urllib.parse.urlsplit(url).path).name or "checkpoint.pth"
    base = resolve_mirror(mirror) if mirror is not None else None
    where = mirror_url(base, name) if base else url
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / name
    try:
        fetch(where, path, label=name)
    except OfflineError as err:
        raise DataError(
            f"{err}: no network? pass --mirror BASE_URL (a server or file:// folder holding {name})"
        ) from None
    return path
