"""The pack trainer: N packable runs trained together as one grouped model, written as N ordinary run directories.

Each member's run directory is exactly what ``ganrepro train`` writes (config.yaml, provenance.json, losses.csv,
loss_curves.png, samples/, checkpoints/latest.pt, epoch_NNNN.pt, final.pt) and its checkpoints are solo
checkpoints, so ``ganrepro evaluate``, tracking and reports read them unchanged, and ``ganrepro train`` could
even continue a member alone.  Each member has its own data order (:class:`~ganrepro.loading.sampler.EpochSampler`
with its seed), jitter (its dataset's seed), pools and loss weights; with dropout off a member ends at its solo
run's weights within float tolerance (grouped kernels sum in another order).  With dropout on, the grouped
network draws one dropout mask for all members from the global stream, so members' masks differ from their solo
runs' (the statistics are the same, the exact draws are not).

A pack trains through the solo runs' loop (:mod:`~ganrepro.training.loop`) and engine: batches from each member's
own source, the resident split shared (:mod:`~ganrepro.training.packed_data`), the packed step run eagerly or as one
CUDA graph (``train.cuda_graph`` as for a solo run), losses kept on the device and read in blocks, each member's
rows checked by the non-finite guard (which names the member) before any checkpoint is written, and
checkpoints snapshotted to host memory and written by the background writer.

Checkpoints of a pack must stay at one step for every member, or a resumed pack could not continue in lockstep.
They are therefore committed in two phases: every member's new checkpoint is first written (atomically) to
``checkpoints/.latest.pt.next``; once all are written, each is renamed onto ``latest.pt``.  A pack killed in the
first phase resumes from the old checkpoints (the partial ``.next`` files are dropped); one killed in the second
phase completes the renames first.  Both phases run on the background writer's thread, one commit at a time.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ganrepro import atomic
from ganrepro.config import Config
from ganrepro.devices import resolve_device
from ganrepro.errors import UserError
from ganrepro.loading import build_dataset
from ganrepro.training import checkpoint, graphs, rundir
from ganrepro.training.loop import EngineWork, run_epochs
from ganrepro.training.losslog import LossLog, MemberLossLogs
from ganrepro.training.packed import PackedModel
from ganrepro.training.packed_data import PackBatches, member_sources
from ganrepro.training.packing import check_packable
from ganrepro.training.rng import restore_rng_state, seed_everything
from ganrepro.training.runlock import locked
from ganrepro.training.samples import plot_losses, side_effect_free, write_grid
from ganrepro.training.trainer import _fixed_sample_batch, build_model

PENDING = ".latest.pt.next"


@dataclass
class PackResult:
    run_dirs: list[Path]
    progress: checkpoint.Progress
    completed: bool


def build_packed_model(configs: list[Config], device: torch.device, labels: list[str]) -> PackedModel:
    """Each member's solo model built exactly as ``ganrepro train`` builds it (freshly seeded), then grouped."""
    check_packable(configs, labels)
    members = []
    for config in configs:
        seed_everything(config.seed)
        members.append(build_model(config, device))
    if configs[0].model == "pix2pix":
        from ganrepro.training.packed_pix2pix import PackedPix2PixModel

        return PackedPix2PixModel(members, labels)  # type: ignore[arg-type]
    from ganrepro.training.packed_cyclegan import PackedCycleGANModel

    return PackedCycleGANModel(members, labels)  # type: ignore[arg-type]


def _pending(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / PENDING


def recover(run_dirs: list[Path]) -> None:
    """Finish or undo an interrupted two-phase checkpoint commit (see the module docstring)."""
    pending = [_pending(d) for d in run_dirs]
    if not any(p.exists() for p in pending):
        return
    steps = {checkpoint.load(p)["step"] for p in pending if p.exists()}
    new_step = max(steps)
    complete = all(
        (p.exists() and checkpoint.load(p)["step"] == new_step)
        or (rundir.latest_checkpoint(d).exists() and checkpoint.load(rundir.latest_checkpoint(d))["step"] == new_step)
        for d, p in zip(run_dirs, pending)
    )
    for d, p in zip(run_dirs, pending):
        if p.exists():
            if complete:
                os.replace(p, rundir.latest_checkpoint(d))
            else:
                p.unlink()


def commit_pack(run_dirs: list[Path], payloads: list[dict[str, Any]], keep_as: str | None) -> None:
    """Every member's ``latest.pt`` at one step, committed in two phases (then kept as ``keep_as``)."""
    for run_dir, payload in zip(run_dirs, payloads):
        atomic.torch_save(payload, _pending(run_dir))
    for run_dir in run_dirs:
        os.replace(_pending(run_dir), rundir.latest_checkpoint(run_dir))
    for run_dir in run_dirs if keep_as else ():
        checkpoint.link_copy(rundir.latest_checkpoint(run_dir), run_dir / "checkpoints" / str(keep_as))


def _resume_state(run_dirs: list[Path], resumes: list[bool]) -> list[dict] | None:
    if not any(resumes):
        return None
    missing = [str(d) for d, r in zip(run_dirs, resumes) if not r]
    if missing:
        raise UserError(
            f"pack members {', '.join(missing)} have no checkpoint while others do; a pack resumes "
            "only as a whole — remove the other members' directories or train these runs one by one"
        )
    payloads = [checkpoint.load(rundir.latest_checkpoint(d), map_location="cpu") for d in run_dirs]
    steps = {p["step"] for p in payloads}
    if len(steps) != 1:
        raise UserError(
            f"pack members' checkpoints are at different steps ({sorted(steps)}) in "
            f"{', '.join(map(str, run_dirs))}; they were not written by one pack"
        )
    return payloads


def train_pack(
    configs: list[Config],
    run_dirs: list[str | Path],
    device: str = "auto",
    *,
    stop_after_epoch: int | None = None,
    datasets: list[Dataset] | None = None,
    progress_bar: bool = True,
) -> PackResult:
    """Train the packable ``configs`` into ``run_dirs`` (one each), resuming them together from their checkpoints."""
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) != len(configs) or len({d.resolve() for d in dirs}) != len(dirs):
        raise UserError("a pack needs one distinct run directory per member")
    labels = [str(d) for d in dirs]
    check_packable(configs, labels)
    if stop_after_epoch is not None and stop_after_epoch < 1:
        raise UserError(f"--stop-after-epoch must be >= 1, got {stop_after_epoch}")
    dev = torch.device(resolve_device(device))
    for d, config in zip(dirs, configs):
        rundir.check_claim(d, config)
    train_sets = datasets or [build_dataset(c, "train", augment=True) for c in configs]
    sample_batches = [_fixed_sample_batch(c) for c in configs]
    with contextlib.ExitStack() as stack:  # every member's directory locked for the whole pack, as a solo run's
        locks = [stack.enter_context(locked(d)) for d in dirs]
        model = build_packed_model(configs, dev, labels)
        for d, config, lock in zip(dirs, configs, locks):
            rundir.claim(d, config)
            lock.claimed = True
        recover(dirs)  # before looking for checkpoints: a half-committed save is finished or undone first
        resumes = [rundir.latest_checkpoint(d).exists() for d in dirs]
        return _train_locked(
            configs, dirs, dev, model, train_sets, sample_batches, resumes, stop_after_epoch, progress_bar
        )


def _train_locked(
    configs: list[Config],
    dirs: list[Path],
    dev: torch.device,
    model: PackedModel,
    train_sets: list[Dataset],
    sample_batches: list[dict],
    resumes: list[bool],
    stop_after_epoch: int | None,
    progress_bar: bool,
) -> PackResult:
    """The pack's side of the loop, on claimed and locked run directories."""
    progress = checkpoint.Progress()
    payloads = _resume_state(dirs, resumes)
    if payloads is not None:
        model.load_member_states([p["model"] for p in payloads])
        restore_rng_state(payloads[0]["rng"])  # the pack's one global stream (dropout), the same in every member
        progress = checkpoint.progress_of(payloads[0])
    resumed_from = progress.step if payloads is not None else None
    # what can fail (decoding the split, the graph switch) before any log file is opened
    source = PackBatches(model, member_sources(configs, train_sets, dev))
    step = graphs.step_function(model, configs[0], dev)
    logs = []
    for d, config, member in zip(dirs, configs, model.members):
        rundir.record_invocation(d, str(dev), resumed_from, Path(config.data.root))
        logs.append(LossLog(d / "losses.csv", member.loss_names, resumed_from, label=str(d)))
    work = PackWork(configs, dirs, model, source, step, MemberLossLogs(logs, model.loss_names), sample_batches)
    completed = run_epochs(
        work, configs[0].train, progress, stop_after_epoch, progress_bar, label=f"pack of {len(dirs)}: "
    )
    return PackResult(dirs, progress, completed=completed)


class PackWork(EngineWork):
    """A pack's side of the loop (:class:`~ganrepro.training.loop.RunWork`): N run directories written at once."""

    def __init__(
        self,
        configs: list[Config],
        dirs: list[Path],
        model: PackedModel,
        source: PackBatches,
        step: graphs.Step,
        logs: MemberLossLogs,
        sample_batches: list[dict],
    ) -> None:
        super().__init__(model, source, step, logs)
        self.configs, self.dirs, self.sample_batches = configs, dirs, sample_batches

    def save(self, progress: checkpoint.Progress, keep_as: str | None) -> None:
        payloads = [
            checkpoint.payload(state, progress, config.digest())
            for state, config in zip(self.model.member_states(), self.configs)
        ]
        self.writer.run(payloads, lambda snapshots: commit_pack(self.dirs, snapshots, keep_as))

    def samples(self, step: int) -> None:
        for d, member, batch in zip(self.dirs, self.model.members, self.sample_batches):
            with side_effect_free(member.nets):
                rows = member.sample_row(batch)
            write_grid(rows, d / "samples" / f"step{step:08d}.png")

    def plot(self) -> None:
        for d, log in zip(self.dirs, self.losses.logs):
            plot_losses(log.path, d / "loss_curves.png")

    def write_final(self) -> None:
        for d in self.dirs:
            checkpoint.write_final(rundir.latest_checkpoint(d), d / "checkpoints" / "final.pt")
