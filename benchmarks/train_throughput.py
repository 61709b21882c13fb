"""Training throughput of the papers' configurations on the current device (iterations per second).

pix2pix: unet_256 + patch70 (batch norm, conditional D), 256x256, batch 1, one D + one G step per iteration.
CycleGAN: 2 x resnet_9blocks + 2 x patch70 (instance norm), 256x256, batch 1, pool 50, identity on.
Random input tensors stand in for data so that only the model step is timed.  Each repeat times
``--iters`` steps after ``--warmup`` untimed steps; the median over ``--repeats`` is reported.

    python benchmarks/train_throughput.py [--device auto|cpu|cuda] [--iters 10] [--repeats 5] [--size 256]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from ganrepro.config import load_config
from ganrepro.paths import params_dir
from ganrepro.training.rng import seed_everything
from ganrepro.devices import resolve_device
from ganrepro.training.trainer import build_model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model_name: str, device: torch.device, size: int, warmup: int, iters: int, repeats: int) -> dict:
    config = load_config(params_dir() / f"{model_name}.yaml",
                         [f"data.load_size={size}", f"data.crop_size={size}"])
    seed_everything(0)
    model = build_model(config, device)
    model.train_mode(True)
    batch = {"A": torch.rand(1, 3, size, size) * 2 - 1, "B": torch.rand(1, 3, size, size) * 2 - 1}
    for _ in range(warmup):
        model.train_step(batch)
    sync(device)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            model.train_step(batch)
        sync(device)
        rates.append(iters / (time.perf_counter() - start))
    return {"model": model_name, "generator": config.network.generator, "size": size,
            "median_it_per_s": statistics.median(rates), "runs_it_per_s": [round(r, 3) for r in rates]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="pix2pix,cyclegan")
    args = parser.parse_args()
    device = torch.device(resolve_device(args.device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    for model_name in args.models.split(","):
        result = measure(model_name, device, args.size, args.warmup, args.iters, args.repeats)
        print(f"{model_name:9s} {result['generator']:15s} {args.size}x{args.size} batch 1: "
              f"{result['median_it_per_s']:.3f} it/s (median of {args.repeats} x {args.iters} iterations)")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
