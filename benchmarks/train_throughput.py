"""End-to-end training throughput of the papers' configurations: the real trainer, on real prepared data.

For pix2pix (unet_256 + patch70, batch norm, conditional D) and CycleGAN (2 x resnet_9blocks + 2 x patch70,
instance norm, pool 50, identity on), batch 1, each of three engines runs ``ganrepro``'s own ``train`` for
``--steps`` steps (one epoch over the first ``--steps`` prepared pairs: data, step, loss log, the epoch-end
checkpoint, sample grid and loss plot included) and the rates are printed side by side:

* ``dataloader+sync``: the earlier engine's path: a DataLoader decoding on the main thread
  (``data.resident=off``, ``data.num_workers=0``), eager steps, every loss read on the host after every step;
* ``resident+eager``: the split kept on the device, eager steps, losses read in blocks;
* ``resident+graphed``: the same with the whole step replayed as one CUDA graph (n/a on CPU).

Two rates per cell: end to end (``--steps`` / wall time of the whole ``train`` call, including the data
decode, model build and epoch-end writes) and in the loop (from the ``seconds`` column of ``losses.csv``,
first to last step).  The peak GPU memory of each run is printed beside it.

``--pack 1,3,8,13`` measures packs instead (:mod:`ganrepro.training.pack`): for each size N, N runs of the same
configuration with seeds 0…N−1 trained together by ``train_pack`` end to end for ``--steps`` steps on the
resident split, graphed on CUDA (eager if capture fails, which the row says) and eager on CPU; the rate is the
aggregate in samples/s (N × steps per second), end to end and in the loop, with the peak GPU memory.
``--profile DIR`` times the eager CycleGAN step under the project's settings and with each of two of them undone
(deterministic algorithms, the deterministic reflection padding), records ``--profile-steps`` steps with
torch.profiler (after warm-up), prints the operators that take the most device time and writes a Chrome trace
to DIR.

    PYTHONPATH=src python benchmarks/train_throughput.py --data data/facades/prepared [--steps 300]
        [--models pix2pix,cyclegan] [--size 256] [--device auto] [--profile DIR] [--pack 1,3,8,13]
        [--set [MODEL:]KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import platform
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from ganrepro.config import Config, load_config
from ganrepro.devices import resolve_device
from ganrepro.models import padding as pad_module
from ganrepro.paths import params_dir
from ganrepro.training import trainer
from ganrepro.training.base import GANModel
from ganrepro.training.pack import train_pack
from ganrepro.training.rng import seed_everything

ENGINES = {
    "dataloader+sync": ["data.resident=off", "data.num_workers=0", "train.cuda_graph=off"],
    "resident+eager": ["data.resident=on", "train.cuda_graph=off"],
    "resident+graphed": ["data.resident=on", "train.cuda_graph=on"],
}


def config_for(model: str, data: Path, size: int, steps: int, engine: str, extra: Sequence[str] = ()) -> Config:
    """``extra``: ``--set`` overrides, ``MODEL:KEY=VALUE`` applying to that model only."""
    load = size * 286 // 256
    mine = [
        o.split(":", 1)[1] if ":" in o.split("=", 1)[0] else o
        for o in extra
        if ":" not in o.split("=", 1)[0] or o.startswith(f"{model}:")
    ]
    return load_config(
        params_dir() / f"{model}.yaml",
        [
            f"data.root={data}",
            f"data.load_size={load}",
            f"data.crop_size={size}",
            f"data.max_items={steps}",
            "train.n_epochs=1",
            "train.n_epochs_decay=0",
            "train.latest_every_steps=0",
            "train.sample_every_steps=0",
            "train.checkpoint_every_epochs=0",
            *ENGINES[engine],
            *mine,
        ],
    )


@contextlib.contextmanager
def host_sync_after_every_step() -> Iterator[None]:
    """Make each model read its losses on the host after every step, as the earlier engine did."""
    original = trainer.build_model

    def build(config: Config, device: torch.device) -> GANModel:
        model = original(config, device)
        step = model.train_step

        def synced(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            losses = step(batch)
            for value in losses.values():
                value.item()
            return losses

        model.train_step = synced  # type: ignore[method-assign]
        return model

    trainer.build_model = build
    try:
        yield
    finally:
        trainer.build_model = original


def loop_rate(losses_csv: Path) -> float:
    with open(losses_csv, newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    return (len(seconds) - 1) / (seconds[-1] - seconds[0]) if len(seconds) > 1 and seconds[-1] > seconds[0] else 0.0


def run(model: str, engine: str, args: argparse.Namespace, device: torch.device) -> dict:
    if engine == "resident+graphed" and device.type != "cuda":
        return {"model": model, "engine": engine, "note": "n/a on CPU"}
    config = config_for(model, args.data, args.size, args.steps, engine, args.set)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    sync = host_sync_after_every_step() if engine == "dataloader+sync" else contextlib.nullcontext()
    with tempfile.TemporaryDirectory() as tmp, sync:
        start = time.perf_counter()
        result = trainer.train(config, Path(tmp) / "run", str(device), progress_bar=False)
        wall = time.perf_counter() - start
        in_loop = loop_rate(Path(tmp) / "run" / "losses.csv")
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {
        "model": model,
        "engine": engine,
        "steps": result.progress.step,
        "end_to_end_it_s": result.progress.step / wall,
        "in_loop_it_s": in_loop,
        "wall_s": wall,
        "peak_gpu_memory_gib": memory,
    }


def guarded(model: str, engine: str, args: argparse.Namespace, device: torch.device) -> dict:
    """One engine's failure is a result too: the other columns are still measured."""
    try:
        return run(model, engine, args, device)
    except Exception as err:  # reported in the table and the JSON line, not hidden
        return {"model": model, "engine": engine, "note": f"failed: {type(err).__name__}: {err}"[:200]}


def cell(result: dict) -> str:
    if "note" in result:
        return result["note"]
    memory = f", {result['peak_gpu_memory_gib']:.1f} GiB" if result["peak_gpu_memory_gib"] is not None else ""
    return f"{result['end_to_end_it_s']:.2f} e2e / {result['in_loop_it_s']:.2f} loop it/s{memory}"


@contextlib.contextmanager
def variant(name: str) -> Iterator[None]:
    """One of :data:`STEP_VARIANTS` for the steps run inside: the project's settings, or one of them undone."""
    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
    )
    pad_forward = pad_module.ReflectionPad2d.forward
    if name == "nondeterministic+cudnn.benchmark":
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = True, False
        torch.use_deterministic_algorithms(False)
    elif name == "native reflection pad":
        pad_module.ReflectionPad2d.forward = nn.ReflectionPad2d.forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[:2]
        torch.use_deterministic_algorithms(saved[2], warn_only=True)
        pad_module.ReflectionPad2d.forward = pad_forward  # type: ignore[method-assign]


#: what the CycleGAN step is timed under: the project's (deterministic cuDNN and kernels, reflection padding
#: with a deterministic backward on CUDA), PyTorch's fastest (what determinism costs), and the native padding
#: kernel (what the deterministic padding costs)
STEP_VARIANTS = ("project settings", "nondeterministic+cudnn.benchmark", "native reflection pad")


def timed_steps(model: GANModel, batch: dict[str, torch.Tensor], steps: int, device: torch.device) -> float:
    """Milliseconds an eager step takes, the median of ``steps`` steps each timed to the device's completion."""
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model.train_step(batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def profile(args: argparse.Namespace, device: torch.device) -> None:
    """Where an eager CycleGAN step spends its time (operators sorted by device time, or CPU time on CPU), and
    what it takes under each of :data:`STEP_VARIANTS` (a JSON line each)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    config = config_for("cyclegan", args.data, args.size, 8, "resident+eager", args.set)
    seed_everything(config.seed)  # and the deterministic settings, as ``ganrepro train`` starts
    model = trainer.build_model(config, device)
    model.train_mode(True)
    batch = {
        "A": torch.rand(1, 3, args.size, args.size, device=device) * 2 - 1,
        "B": torch.rand(1, 3, args.size, args.size, device=device) * 2 - 1,
    }
    for name in STEP_VARIANTS:
        with variant(name):
            timed_steps(model, batch, 3, device)  # warm-up (and cuDNN's benchmark, where on)
            ms = timed_steps(model, batch, args.profile_steps * 2, device)
        print(json.dumps({"profile": "cyclegan eager step", "variant": name, "ms": ms}), flush=True)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=activities, record_shapes=True) as prof:
        for _ in range(args.profile_steps):
            model.train_step(batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=25))
    args.profile.mkdir(parents=True, exist_ok=True)
    trace = args.profile / "cyclegan_step_trace.json"
    prof.export_chrome_trace(str(trace))
    print(f"profile: {args.profile_steps} CycleGAN steps, trace {trace}")


def run_pack(model: str, size: int, engine: str, args: argparse.Namespace, device: torch.device) -> dict:
    """A pack of ``size`` seeds trained end to end by the pack trainer; aggregate samples/s."""
    configs = [
        config_for(model, args.data, args.size, args.steps, engine, [*args.set, f"seed={seed}"]) for seed in range(size)
    ]
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp) / f"m{i}" for i in range(size)]
        start = time.perf_counter()
        result = train_pack(configs, dirs, str(device), progress_bar=False)
        wall = time.perf_counter() - start
        in_loop = loop_rate(dirs[0] / "losses.csv")
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    steps = result.progress.step
    return {
        "model": model,
        "pack": size,
        "engine": engine,
        "steps": steps,
        "end_to_end_samples_s": size * steps / wall,
        "in_loop_samples_s": size * in_loop,
        "wall_s": wall,
        "peak_gpu_memory_gib": memory,
    }


def guarded_pack(model: str, size: int, args: argparse.Namespace, device: torch.device) -> dict:
    """Graphed on CUDA, falling back to eager (and saying so) when the capture fails; eager on CPU."""
    failure = ""
    engines = ["resident+graphed", "resident+eager"] if device.type == "cuda" else ["resident+eager"]
    for engine in engines:
        try:
            result = run_pack(model, size, engine, args, device)
            return {**result, "note": failure} if failure else result
        except Exception as err:  # reported in the row and the JSON line, not hidden
            failure += f"{engine} failed: {type(err).__name__}: {err}"[:200] + "; "
    return {"model": model, "pack": size, "note": failure}


def pack_cell(result: dict) -> str:
    if "steps" not in result:
        return f"pack {result['pack']}: {result['note']}"
    memory = f", {result['peak_gpu_memory_gib']:.1f} GiB" if result["peak_gpu_memory_gib"] is not None else ""
    return (
        f"pack {result['pack']}: {result['end_to_end_samples_s']:.1f} e2e / {result['in_loop_samples_s']:.1f} "
        f"loop samples/s{memory} ({result['engine']})"
    )


def pack_mode(args: argparse.Namespace, device: torch.device) -> None:
    sizes = [int(n) for n in args.pack.split(",")]
    models = args.models.split(",")
    print(f"pack mode: aggregate samples/s for packs of {', '.join(map(str, sizes))}")
    for model in models:
        # untimed: the first run in a process pays one-time costs (CUDA context, cuDNN, plotting imports)
        guarded_pack(model, 1, argparse.Namespace(**{**vars(args), "steps": 2}), device)
    results: dict[str, list[dict]] = {model: [] for model in models}
    # size by size, every model at each size, each result printed when measured: a run cut short by a time
    # limit keeps what it measured, for every model
    for size in sizes:
        for model in models:
            results[model].append(guarded_pack(model, size, args, device))
            print(json.dumps(results[model][-1]), flush=True)
    for model in models:
        print(f"{model:9s} | " + " | ".join(pack_cell(r) for r in results[model]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a prepared dataset (ganrepro prepare NAME)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--size", type=int, default=256, help="crop size; load size is size·286/256")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", default="pix2pix,cyclegan")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--profile", type=Path, default=None, help="also profile CycleGAN steps into this folder")
    parser.add_argument("--profile-steps", type=int, default=5)
    parser.add_argument(
        "--pack",
        default=None,
        metavar="N,N,...",
        help="measure packs of these sizes (aggregate samples/s) instead of the engines",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="[MODEL:]KEY=VALUE",
        help="extra config override (repeatable); with MODEL: for that model only",
    )
    args = parser.parse_args()
    device = torch.device(resolve_device(args.device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {device} ({name}), torch {torch.__version__}, {args.steps} steps, {args.size}x{args.size}, batch 1")
    if args.pack:
        pack_mode(args, device)
        return
    engines = args.engines.split(",")
    print(f"{'model':9s} | " + " | ".join(f"{e:42s}" for e in engines))
    for model in args.models.split(","):
        results = [guarded(model, engine, args, device) for engine in engines]
        print(f"{model:9s} | " + " | ".join(f"{cell(r):42s}" for r in results))
        for result in results:
            print(json.dumps(result))
    if args.profile is not None:
        profile(args, device)


if __name__ == "__main__":
    main()
