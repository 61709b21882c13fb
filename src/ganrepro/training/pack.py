"""The pack trainer: N packable runs trained together as one grouped model, written as N ordinary run directories.

Each member's run directory is exactly what ``ganrepro train`` writes (config.yaml, provenance.json, losses.csv,
loss_curves.png, samples/, checkpoints/latest.pt, epoch_NNNN.pt, final.pt) and its checkpoints are solo
checkpoints, so ``ganrepro evaluate``, tracking and reports read them unchanged, and ``ganrepro train`` could
even continue a member alone.  Each member has its own data order (:class:`~ganrepro.data.sampler.EpochSampler`
with its seed), jitter (its dataset's seed), pools and loss weights; with dropout off a member ends at its solo
run's weights within float tolerance (grouped kernels sum in another order).  With dropout on, the grouped
network draws one dropout mask for all members from the global stream, so members' masks differ from their solo
runs' (the statistics are the same, the exact draws are not).

Checkpoints of a pack must stay at one step for every member, or a resumed pack could not continue in lockstep.
They are therefore committed in two phases: every member's new checkpoint is first written (atomically) to
``checkpoints/.latest.pt.next``; once all are written, each is renamed onto ``latest.pt``.  A pack killed in the
first phase resumes from the old checkpoints (the partial ``.next`` files are dropped); one killed in the second
phase completes the renames first.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ganrepro.config import Config
from ganrepro.data import build_dataset
from ganrepro.data.sampler import EpochSampler
from ganrepro.devices import resolve_device
from ganrepro.errors import UserError
from ganrepro.training import checkpoint, rundir
from ganrepro.training.packed import PackedModel
from ganrepro.training.packing import check_packable
from ganrepro.training.rng import restore_rng_state, seed_everything
from ganrepro.training.runlock import locked
from ganrepro.training.samples import plot_losses, side_effect_free, write_grid
from ganrepro.training.trainer import LossLog, StopFlag, _fixed_sample_batch, _set_epoch, build_model

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
    complete = all((p.exists() and checkpoint.load(p)["step"] == new_step) or
                   (rundir.latest_checkpoint(d).exists() and
                    checkpoint.load(rundir.latest_checkpoint(d))["step"] == new_step)
                   for d, p in zip(run_dirs, pending))
    for d, p in zip(run_dirs, pending):
        if p.exists():
            if complete:
                os.replace(p, rundir.latest_checkpoint(d))
            else:
                p.unlink()


def save_pack(model: PackedModel, run_dirs: list[Path], configs: list[Config],
              progress: checkpoint.Progress) -> None:
    """Every member's ``latest.pt`` at this step, committed in two phases."""
    for run_dir, config, state in zip(run_dirs, configs, model.member_states()):
        checkpoint.save(_pending(run_dir), state, progress, config.digest())
    for run_dir in run_dirs:
        os.replace(_pending(run_dir), rundir.latest_checkpoint(run_dir))


def _resume_state(run_dirs: list[Path], resumes: list[bool]) -> list[dict] | None:
    if not any(resumes):
        return None
    missing = [str(d) for d, r in zip(run_dirs, resumes) if not r]
    if missing:
        raise UserError(f"pack members {', '.join(missing)} have no checkpoint while others do; a pack resumes "
                        "only as a whole — remove the other members' directories or train these runs one by one")
    payloads = [checkpoint.load(rundir.latest_checkpoint(d), map_location="cpu") for d in run_dirs]
    steps = {p["step"] for p in payloads}
    if len(steps) != 1:
        raise UserError(f"pack members' checkpoints are at different steps ({sorted(steps)}) in "
                        f"{', '.join(map(str, run_dirs))}; they were not written by one pack")
    return payloads


def train_pack(configs: list[Config], run_dirs: list[str | Path], device: str = "auto", *,
               stop_after_epoch: int | None = None, datasets: list[Dataset] | None = None,
               progress_bar: bool = True) -> PackResult:
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
        return _train_locked(configs, dirs, dev, model, train_sets, sample_batches, resumes, stop_after_epoch,
                             progress_bar)


def _train_locked(configs: list[Config], dirs: list[Path], dev: torch.device, model: PackedModel,
                  train_sets: list[Dataset], sample_batches: list[dict], resumes: list[bool],
                  stop_after_epoch: int | None, progress_bar: bool) -> PackResult:
    """The pack's training loop, on claimed and locked run directories."""
    progress = checkpoint.Progress()
    payloads = _resume_state(dirs, resumes)
    if payloads is not None:
        model.load_member_states([p["model"] for p in payloads])
        restore_rng_state(payloads[0]["rng"])  # the pack's one global stream (dropout), the same in every member
        progress = checkpoint.progress_of(payloads[0])
    resumed_from = progress.step if payloads is not None else None
    logs = []
    for d, config, member in zip(dirs, configs, model.members):
        rundir.record_invocation(d, str(dev), resumed_from, Path(config.data.root))
        logs.append(LossLog(d / "losses.csv", member.loss_names, resumed_from))

    t = configs[0].train
    total_epochs = t.n_epochs + t.n_epochs_decay
    samplers = [EpochSampler(len(s), c.seed) for s, c in zip(train_sets, configs)]

    def write_samples() -> None:
        model.sync_members()
        for d, member, batch in zip(dirs, model.members, sample_batches):
            with side_effect_free(member.nets):
                rows = member.sample_row(batch)
            write_grid(rows, d / "samples" / f"step{progress.step:08d}.png")

    def save() -> None:
        save_pack(model, dirs, configs, progress)

    started = time.perf_counter()
    try:
        with StopFlag() as stop:
            while progress.epoch < total_epochs:
                epoch = progress.epoch
                loaders = []
                for train_set, sampler, config in zip(train_sets, samplers, configs):
                    _set_epoch(train_set, epoch)
                    sampler.set_epoch(epoch, skip=progress.batches_done * t.batch_size)
                    loaders.append(DataLoader(train_set, batch_size=t.batch_size, sampler=sampler,
                                              num_workers=config.data.num_workers, pin_memory=dev.type == "cuda",
                                              generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)))
                bar = tqdm(zip(*loaders), total=len(loaders[0]) + progress.batches_done,
                           initial=progress.batches_done, desc=f"pack of {len(dirs)}: epoch {epoch + 1}/{total_epochs}",
                           unit="it", disable=not progress_bar, dynamic_ncols=True, mininterval=1.0)
                model.train_mode(True)
                for batches in bar:
                    member_losses = model.train_step(list(batches))
                    progress.batches_done += 1
                    progress.step += 1
                    common = {"step": progress.step, "epoch": epoch + 1, "iter": progress.batches_done,
                              "lr": model.lr, "seconds": round(time.perf_counter() - started, 3)}
                    for log, losses in zip(logs, member_losses):
                        log.write({**common, **losses})
                    if t.sample_every_steps and progress.step % t.sample_every_steps == 0:
                        write_samples()
                    if stop.signal is not None:
                        save()
                        return PackResult(dirs, progress, completed=False)
                    if t.latest_every_steps and progress.step % t.latest_every_steps == 0:
                        save()
                bar.close()
                model.end_epoch()
                write_samples()
                progress.epoch += 1
                progress.batches_done = 0
                save()
                for d, log in zip(dirs, logs):
                    if t.checkpoint_every_epochs and progress.epoch % t.checkpoint_every_epochs == 0:
                        checkpoint.link_copy(rundir.latest_checkpoint(d), d / "checkpoints" / f"epoch_{progress.epoch:04d}.pt")
                    plot_losses(log.path, d / "loss_curves.png")
                if stop_after_epoch is not None and progress.epoch >= stop_after_epoch:
                    break
    finally:
        for log in logs:
            log.close()
    completed = progress.epoch >= total_epochs
    if completed:
        for d in dirs:
            checkpoint.write_final(rundir.latest_checkpoint(d), d / "checkpoints" / "final.pt")
    return PackResult(dirs, progress, completed=completed)
