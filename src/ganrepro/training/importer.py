"""A released generator of the PyTorch port (junyanz/pytorch-CycleGAN-and-pix2pix) as an ordinary run directory.

The authors publish trained generators as the port's ``state_dict`` files (e.g. ``latest_net_G.pth``).  Their
key names differ from ours (the port nests every U-Net level as ``model.model.1.model.3…``, ours as
``down``/``submodule``/``up``), but both networks register their layers in the same order with the same
shapes.  So the reference tensors are matched to ours *by order*: learned parameters with parameters, batch-norm
running statistics with running statistics, every pair checked for shape; a file of another architecture fails
on the first mismatch, naming both keys.  Instance-norm running statistics that old versions of the port saved
(and that its own loader deletes) are dropped, since neither side's instance norm uses them.

The result is a run directory that ``ganrepro evaluate`` reads like any other: ``config.yaml`` (the config the
generator was built from), ``checkpoints/final.pt`` (generator weights only, step 0: nothing was trained here)
and ``provenance.json`` naming the source and its sha256.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganrepro import __version__, atomic
from ganrepro.config import Config
from ganrepro.errors import UserError
from ganrepro.hashing import sha256_file
from ganrepro.training import checkpoint, rundir

STATS = ("running_mean", "running_var")


def read_reference_state(path: Path) -> dict[str, torch.Tensor]:
    """A state_dict file of the port (tensors only; a ``module.`` prefix from DataParallel is removed)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint not found: {path}") from None
    except Exception as err:  # not a torch file, truncated, or pickled objects beyond tensors
        raise UserError(f"cannot read {path} as a state_dict of tensors: {err}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path} is not a state_dict (a mapping of names to tensors)")
    return {k.removeprefix("module."): v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def map_by_order(reference: dict[str, torch.Tensor], net: nn.Module, source: str) -> dict[str, torch.Tensor]:
    """``net``'s state_dict filled with ``reference``'s tensors, matched in registration order."""
    ours = net.state_dict()
    ours_params = [k for k, _ in net.named_parameters()]
    ours_stats = [k for k in ours if k.endswith(STATS)]
    ref_params = [k for k in reference if not k.endswith(STATS)]
    ref_stats = [k for k in reference if k.endswith(STATS)] if ours_stats else []
    mapped = dict(ours)
    for kind, mine, theirs in (("parameters", ours_params, ref_params), ("running statistics", ours_stats, ref_stats)):
        if len(mine) != len(theirs):
            raise UserError(
                f"{source} has {len(theirs)} {kind} tensors, the network built here has {len(mine)}: "
                "not this architecture (check --arch, --norm and the channel counts)"
            )
        for key, ref_key in zip(mine, theirs):
            if tuple(ours[key].shape) != tuple(reference[ref_key].shape):
                raise UserError(
                    f"{source}: {ref_key} has shape {tuple(reference[ref_key].shape)} but {key} here has "
                    f"{tuple(ours[key].shape)}: not this architecture (check --arch and --norm)"
                )
            mapped[key] = reference[ref_key].to(ours[key].dtype)
    return mapped


def check_forward(net: nn.Module, config: Config, input_nc: int, output_nc: int, source: str) -> None:
    """One forward pass at the config's crop size (train mode, as evaluation runs it): shape and finiteness."""
    size = config.data.crop_size
    with torch.no_grad():
        out = net.train()(torch.zeros(1, input_nc, size, size))
    if tuple(out.shape) != (1, output_nc, size, size) or not torch.isfinite(out).all():
        raise UserError(
            f"{source}: the imported generator gives {tuple(out.shape)} "
            f"{'finite' if torch.isfinite(out).all() else 'non-finite'} output for a {size}×{size} input"
        )


def import_generators(config: Config, files: dict[str, Path], out: Path, source_names: dict[str, str]) -> Path:
    """Write ``out`` as a run directory holding the generators in ``files`` ({"G": path} or {"G_A": …, "G_B": …})."""
    from ganrepro.training.trainer import build_model

    if rundir.check_claim(out, config):
        raise UserError(f"{out} already holds this run; remove it to import again")
    model = build_model(config, torch.device("cpu"))
    data = config.data
    channels = {
        "G": (data.input_nc, data.output_nc),
        "G_A": (data.input_nc, data.output_nc),
        "G_B": (data.output_nc, data.input_nc),
    }
    nets: dict[str, dict[str, torch.Tensor]] = {}
    records: list[dict[str, Any]] = []
    for name, path in files.items():
        net = model.nets[name]
        source = source_names.get(name, str(path))
        weights = map_by_order(read_reference_state(path), net, source)
        net.load_state_dict(weights)
        check_forward(net, config, *channels[name], source)  # moves batch-norm statistics: keep the released ones
        nets[name] = weights
        records.append({"net": name, "source": source, "file": str(path), "sha256": sha256_file(path)})
    rundir.claim(out, config)
    state = {"nets": nets, "optimizers": {}, "schedulers": {}, "pools": {}}
    latest = rundir.latest_checkpoint(out)
    checkpoint.save(latest, state, checkpoint.Progress(), config.digest())
    checkpoint.write_final(latest, out / "checkpoints" / "final.pt")
    atomic.write_json(
        out / "provenance.json",
        {
            "invocations": [
                {
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "kind": "import",
                    "imported": records,
                    "ganrepro_version": __version__,
                    "git_commit": rundir.git_commit(),
                    "torch_version": torch.__version__,
                    "data_root": str(data.root),
                    "data_hash": rundir.data_hash(Path(data.root)),
                    "resumed_from_step": None,
                }
            ]
        },
    )
    (out / "losses.csv").write_text("step,epoch,iter,lr,seconds\n")
    return out
