"""``ganrepro datasets``, ``ganrepro download NAME`` and ``ganrepro prepare NAME``: the data commands."""

from __future__ import annotations

import argparse
import json
import sys

DATA_DIR_HELP = "data folder (default $GANREPRO_DATA_DIR or ./data)"


def register(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser(
        "datasets",
        help="list the registered data sets and their state here",
        description="Every data set of params/datasets.yaml with its state in the "
        "data folder: absent, downloaded or prepared.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    listing.set_defaults(func=run_datasets)

    download = subparsers.add_parser(
        "download",
        help="fetch, verify (sha256) and safely extract a data set's archive(s)",
        description="Streams the archive into DATA_DIR/NAME/raw (resuming and retrying), verifies its sha256 "
        "(registry hash, else the hash locked at the first download in DATA_DIR/datasets.lock.json) "
        "and extracts it into DATA_DIR/NAME/extracted, refusing unsafe members.",
    )
    download.add_argument("name", metavar="NAME")
    download.add_argument(
        "--mirror",
        default=None,
        metavar="BASE_URL",
        help="fetch BASE_URL/<archive file> instead of the official URL (http(s):// or file://; "
        "default $GANREPRO_MIRROR)",
    )
    download.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    download.add_argument("--retries", type=int, default=4, help="retries of transient failures (default 4)")
    download.add_argument(
        "--backoff", type=float, default=2.0, help="seconds before the first retry, doubled each time (default 2)"
    )
    download.add_argument("--timeout", type=float, default=60.0, help="socket timeout in seconds (default 60)")
    download.add_argument("--force", action="store_true", help="download again even if already verified")
    download.set_defaults(func=run_download)

    prepare = subparsers.add_parser(
        "prepare",
        help="build DATA_DIR/NAME/prepared (+ manifest.json) from the downloaded archive",
        description="Decodes and checks every image, writes the layout the trainers read, label maps for label "
        "data sets, and prepared/manifest.json. `prepare synthetic` generates its data (no download).",
    )
    prepare.add_argument("name", metavar="NAME")
    prepare.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    prepare.add_argument("--force", action="store_true", help="redo even if an identical preparation exists")
    synthetic = prepare.add_argument_group("synthetic only (defaults from params/datasets.yaml)")
    synthetic.add_argument("--size", type=int, default=None, help="side of each square image (default 64)")
    synthetic.add_argument("--train", type=int, default=None, help="number of training scenes (default 200)")
    synthetic.add_argument("--test", type=int, default=None, help="number of test scenes (default 50)")
    synthetic.add_argument("--seed", type=int, default=None, help="generator seed (default 0)")
    prepare.set_defaults(func=run_prepare)


def run_datasets(args: argparse.Namespace) -> int:
    from ganrepro.paths import data_dir
    from ganrepro.preparation.registry import dataset_state, load_registry

    root = data_dir(args.data_dir)
    rows = []
    for name, spec in load_registry().items():
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "kind": spec.kind,
                "state": dataset_state(spec, root),
                "labels": spec.labels.name if spec.labels else None,
                "manual": spec.manual,
                "archives": [a.file for a in spec.archives],
                "url": spec.archives[0].url if spec.archives else None,
                "path": str(root / name),
            }
        )
    if args.json:
        print(json.dumps({"data_dir": str(root), "datasets": rows}, indent=2))
        return 0
    print(f"data folder: {root}")
    print(f"{'NAME':24} {'FAMILY':10} {'KIND':10} {'STATE':11} {'LABELS':14} SOURCE")
    for row in rows:
        source = "generated" if not row["archives"] else ", ".join(row["archives"])
        source += " (manual)" if row["manual"] else ""
        print(
            f"{row['name']:24} {row['family']:10} {row['kind']:10} {row['state']:11} {row['labels'] or '-':14} {source}"
        )
    return 0


def run_download(args: argparse.Namespace) -> int:
    from ganrepro.errors import UserError
    from ganrepro.preparation.download import download_dataset, resolve_mirror
    from ganrepro.preparation.registry import get_spec
    from ganrepro.preparation.transfer import RetryPolicy

    if args.retries < 0 or args.backoff < 0 or args.timeout <= 0:
        raise UserError("--retries and --backoff must be >= 0 and --timeout > 0")
    spec = get_spec(args.name)
    if spec.recipe == "synthetic":
        raise UserError(f"{spec.name} is generated, not downloaded: run `ganrepro prepare {spec.name}`")
    policy = RetryPolicy(retries=args.retries, backoff=args.backoff, timeout=args.timeout)
    results = download_dataset(spec, args.data_dir, mirror=resolve_mirror(args.mirror), policy=policy, force=args.force)
    for result in results:
        print(f"{spec.name}: {result.file} sha256 {result.sha256} ({result.size} bytes, {result.check})")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from ganrepro.errors import UserError
    from ganrepro.preparation.prepare import prepare_dataset
    from ganrepro.preparation.registry import get_spec

    spec = get_spec(args.name)
    options = {k: getattr(args, k) for k in ("size", "train", "test", "seed") if getattr(args, k) is not None}
    if options and spec.recipe != "synthetic":
        raise UserError(f"--{'/--'.join(sorted(options))} only apply to `prepare synthetic`")
    manifest = prepare_dataset(spec, args.data_dir, force=args.force, options=options)
    counts = ", ".join(f"{split} {n}" for split, n in manifest["splits"].items())
    print(f"{spec.name}: {counts}; image size {manifest['image_size']}; data_hash {manifest['data_hash']}")
    for note in manifest["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0
