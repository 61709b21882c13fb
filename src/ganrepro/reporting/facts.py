"""What the report header states about the build as a whole, derived from the runs (never from the clock).

Each fact is gathered from every run so that disagreement shows: runs evaluated on different data, trained
at different sizes or from different commits are listed rather than reduced to one value.  The date is the
newest evaluation among the runs, so regenerating an unchanged report yields the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from ganrepro.reporting.collect import RunRecord


@dataclass(frozen=True)
class BuildFacts:
    data_hashes: dict[str | None, list[str]]  # hash -> runs (and training invocations) that used it
    commits: dict[str, list[str]]  # git commit -> runs trained with it
    versions: dict[str, list[str]]  # ganrepro version -> runs evaluated with it
    crop_sizes: dict[int, list[str]]
    epochs: dict[tuple[int, int], list[str]]  # (n_epochs, n_epochs_decay) -> runs
    batch_sizes: dict[int, list[str]]
    date: str
    date_source: str

    @property
    def data_agrees(self) -> bool:
        return len(self.data_hashes) == 1


def _group(runs: Sequence[RunRecord], key: Callable[[RunRecord], Hashable]) -> dict:
    out: dict = {}
    for run in runs:
        out.setdefault(key(run), []).append(run.name)
    return out


def gather(runs: Sequence[RunRecord]) -> BuildFacts:
    hashes: dict[str | None, list[str]] = {}
    for run in runs:
        hashes.setdefault(run.data_hash, []).append(f"{run.name} (evaluation)")
        for value in dict.fromkeys(run.train_data_hashes):
            if value != run.data_hash:
                hashes.setdefault(value, []).append(f"{run.name} (training)")
    commits: dict[str, list[str]] = {}
    for run in runs:
        for commit in dict.fromkeys(run.commits or ("unknown",)):
            commits.setdefault(commit, []).append(run.name)
    return BuildFacts(
        data_hashes=hashes,
        commits=commits,
        versions=_group(runs, lambda r: r.ganrepro_version),
        crop_sizes=_group(runs, lambda r: r.crop_size),
        epochs=_group(runs, lambda r: (r.n_epochs, r.n_epochs_decay)),
        batch_sizes=_group(runs, lambda r: r.batch_size),
        date=max(r.evaluated for r in runs).isoformat(),
        date_source="the newest evaluation among the runs",
    )


def describe(groups: dict, show: Callable[[Hashable], str] = str) -> str:
    """One value as itself; several as ``value (runs…); value (runs…)`` so the odd ones out are named."""
    if len(groups) == 1:
        return show(next(iter(groups)))
    return "; ".join(f"{show(value)} ({', '.join(names)})" for value, names in groups.items())
