"""``ganrepro models``: list the named architectures with parameter counts and receptive fields.

The counts are the check that our networks match the reference implementation layer for layer; the
receptive fields are computed from the discriminators' layer lists, so the table shows that "patch70"
really sees 70×70 pixels.
"""

from __future__ import annotations

import argparse
import json

NORM_CHOICES = ("batch", "instance", "none")  # = models.layers.NORM_NAMES, restated so --help needs no torch
DEFAULT_DISC_INPUT_NC = 6  # the conditional pix2pix D sees A and B concatenated
MAP_SIZE = 256


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand."""
    parser = subparsers.add_parser(
        "models",
        help="list generator/discriminator architectures with parameter counts and receptive fields",
        description=(
            "List every named generator (3->3 channels) and discriminator with its parameter count; "
            f"for discriminators also the receptive field and the output map size on a {MAP_SIZE}x{MAP_SIZE} input."
        ),
    )
    parser.add_argument("--norm", choices=NORM_CHOICES, default="batch", help="normalisation layer (default: batch)")
    parser.add_argument(
        "--input-nc",
        type=int,
        default=DEFAULT_DISC_INPUT_NC,
        metavar="N",
        help=(
            f"discriminator input channels (default: {DEFAULT_DISC_INPUT_NC}, conditional pix2pix; "
            "3 = unconditional/CycleGAN)"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.set_defaults(func=run_models)


def _table(rows: list[dict[str, object]]) -> str:
    """Aligned text table; numbers right-aligned with thousands separators."""
    header = ("kind", "name", "params", "receptive field", f"output map ({MAP_SIZE}x{MAP_SIZE} input)")
    lines = [header]
    for row in rows:
        rf = row["receptive_field"]
        out_map = row["output_map"]
        lines.append(
            (
                str(row["kind"]),
                str(row["name"]),
                f"{row['params']:,}",
                "" if rf is None else f"{rf}x{rf}",
                "" if out_map is None else "x".join(str(v) for v in out_map),  # type: ignore[union-attr]
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3, 4}
    text = []
    for line in lines:
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        text.append("  ".join(cells).rstrip())
    return "\n".join(text)


def run_models(args: argparse.Namespace) -> int:
    """Print the listing as a table or JSON."""
    from ganrepro.models import (
        describe_architectures,  # torch is imported here, not at CLI start-up
    )

    rows = [info.as_dict() for info in describe_architectures(args.norm, args.input_nc, MAP_SIZE)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"norm: {args.norm}; generators 3->3 channels; discriminators {args.input_nc} input channels")
    print(_table(rows))
    return 0
