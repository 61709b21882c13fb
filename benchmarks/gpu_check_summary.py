"""The summary lines of ``benchmarks/gpu_check.sh``: one line per figure, read from what its steps wrote.

Kept out of the shell script so that the CPU tests can run it on the same kinds of files (a parse error would
otherwise surface only on the GPU, whose minutes are counted).

    python3 benchmarks/gpu_check_summary.py engines BENCHMARK_LOG    # train_throughput.py's engines + profile
    python3 benchmarks/gpu_check_summary.py packs PACK_LOG           # train_throughput.py --pack
    python3 benchmarks/gpu_check_summary.py train LOSSES_CSV         # a 2-epoch run's losses.csv
    python3 benchmarks/gpu_check_summary.py evaluate METRICS_JSON    # ganrepro evaluate's metrics.json
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _memory(record: dict) -> str:
    memory = record.get("peak_gpu_memory_gib")
    return f"{memory:.2f} GiB" if memory is not None else "n/a"


def engines(log: Path) -> list[str]:
    lines, variants = [], []
    for r in _records(log):
        if "variant" in r:
            variants.append(f"{r['variant']} {r['ms']:.1f}")
        elif "note" in r:
            lines.append(f"throughput {r['model']} {r['engine']}: {r['note']}")
        else:
            lines.append(
                f"throughput {r['model']} {r['engine']}: {r['end_to_end_it_s']:.1f} it/s end to end, "
                f"{r['in_loop_it_s']:.1f} it/s in the loop, peak GPU memory {_memory(r)}"
            )
    if variants:
        lines.append("CycleGAN eager step (median ms): " + ", ".join(variants))
    return lines


def packs(log: Path) -> list[str]:
    lines = []
    for r in _records(log):
        if "steps" not in r:
            lines.append(f"pack {r['model']} x{r['pack']}: {r['note']}")
            continue
        note = f" [{r['note']}]" if r.get("note") else ""
        lines.append(
            f"pack {r['model']} x{r['pack']} ({r['engine']}): {r['end_to_end_samples_s']:.1f} samples/s end to "
            f"end, {r['in_loop_samples_s']:.1f} in the loop, peak GPU memory {_memory(r)}{note}"
        )
    return lines


def train(losses: Path) -> list[str]:
    with open(losses, newline="") as handle:
        rows = list(csv.DictReader(handle))
    seconds = [float(r["seconds"]) for r in rows]
    first_epoch = sum(1 for r in rows if r["epoch"] == rows[0]["epoch"])
    boundary = seconds[first_epoch] - seconds[first_epoch - 1] if first_epoch < len(rows) else float("nan")
    rate = (len(seconds) - 1) / (seconds[-1] - seconds[0]) if seconds[-1] > seconds[0] else float("nan")
    return [
        f"2-epoch facades pix2pix: {len(rows)} steps in {seconds[-1]:.1f} s ({rate:.1f} it/s in the loop; "
        f"the step across the epoch boundary {boundary:.3f} s)"
    ]


def evaluate(metrics: Path) -> list[str]:
    scores = json.loads(metrics.read_text())["metrics"]
    listed = ", ".join(f"{k} {v['value']:.4g} ({v['n_images']} images)" for k, v in scores.items())
    return [f"evaluate after 2 epochs: {listed}"]


SUMMARIES: dict[str, Callable[[Path], list[str]]] = {
    "engines": engines,
    "packs": packs,
    "train": train,
    "evaluate": evaluate,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in SUMMARIES:
        print(f"usage: gpu_check_summary.py {{{'|'.join(SUMMARIES)}}} FILE", file=sys.stderr)
        return 2
    kind, path = argv[0], Path(argv[1])
    try:
        print("\n".join(SUMMARIES[kind](path)))
    except (OSError, ValueError, KeyError, IndexError) as err:  # one line in the summary, not a lost summary
        print(f"{kind}: no figure ({type(err).__name__}: {err}; see the step's log)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
