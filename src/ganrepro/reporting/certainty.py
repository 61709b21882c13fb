"""How sure each number of a table build is, and whether the paper's claimed orderings hold at that confidence.

Every run's ``per_image.npz`` (:mod:`ganrepro.metrics.per_image`) is aligned to one list of test images and
resampled with one fixed draw (:mod:`.bootstrap`), so that:

* a row's cell gets the 95 % percentile interval of its mean over seeds, resampling test images and seeds
  (:func:`.bootstrap.pool_seeds`); with one seed, the interval over test images alone;
* the ground-truth row gets the same over the section's runs (one scorer: the runs agree);
* a claim "A better than B on M" gets the paired interval of A − B (oriented so that > 0 agrees with the
  paper, i.e. B − A for FID and KID): **reproduced** if it lies above 0, **reversed** if below, otherwise
  **not resolved at 95 %**; "A best" holds if A beats every other row of the section that way, is reversed
  if any row beats A that way, and is unresolved otherwise.

Per-image statistics must reproduce the value ``metrics.json`` records (the FCN-scores and SSIM/PSNR
exactly, FID to 1e-3 relative from float32 features); otherwise the interval is withheld with that reason, as
it is for evaluations made before per-image statistics were kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ganrepro.errors import UserError
from ganrepro.metrics import per_image
from ganrepro.reporting import bootstrap
from ganrepro.reporting.aggregate import summarize
from ganrepro.reporting.collect import COLORHIST, FCN_KEYS, LABELMAP, REVERSE, RunRecord, measure_key
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.spec import LOWER_IS_BETTER, Claim, Section

REPRODUCED, REVERSED, UNRESOLVED, NOT_ASSESSED = "reproduced", "reversed", "not resolved at 95%", "not assessed"
NO_STATS = (
    "no per-image statistics recorded in metrics.json (evaluated before they were kept); "
    "re-run `ganrepro evaluate` on the run to get intervals"
)
#: how close the statistics must come to the recorded value: (relative, absolute) tolerance per metric
TOLERANCE = {"fid": (1e-3, 1e-6), "kid": None, "ssim": (1e-9, 1e-12), "psnr": (1e-9, 1e-12)}


@dataclass(frozen=True)
class Estimate:
    """Bootstrap replicates of a row's value (the mean over its seeds), or why there are none."""

    replicates: np.ndarray | None
    reason: str | None = None

    @property
    def bounds(self) -> tuple[float, float] | None:
        return None if self.replicates is None else bootstrap.interval(self.replicates)


@dataclass(frozen=True)
class Comparison:
    worse: str
    difference: float | None  # ours, oriented: > 0 agrees with the paper
    bounds: tuple[float, float] | None  # its 95 % interval
    verdict: str
    reason: str | None = None


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    comparisons: tuple[Comparison, ...]
    verdict: str


class Certainty:
    """Intervals and verdicts of one table build; everything is computed once, on construction."""

    def __init__(self, plan: Plan, table: str, runs: Sequence[RunRecord]) -> None:
        self.table = table
        self._runs = list(runs)
        self._stats = {(r.row, r.seed): _load(r) for r in self._runs}
        self._reverse_stats = {(r.row, r.seed): _load(r, reverse=True) for r in self._runs}
        loaded = [s for s in self._stats.values() if isinstance(s, dict)]
        self.names: list[str] = sorted(str(n) for n in loaded[0]["names"]) if loaded else []
        self.counts = bootstrap.resample_counts(len(self.names)) if self.names else None
        self._rows: dict[tuple[str, str], Estimate] = {}
        # the scores computed from one array come together: (row, seed, array) -> {score: replicates}
        self._fcn: dict[tuple[str, int, str], dict[str, np.ndarray]] = {}
        self.verdicts: dict[str, list[Verdict]] = {
            s.id: [self._verdict(s, c) for c in s.claims] for s in plan.table(table).sections
        }

    # -------------------------------------------------------------------------------------------- queries

    def row(self, row: str, metric: str) -> Estimate:
        key = (row, metric)
        if key not in self._rows:
            runs = [r for r in self._runs if r.row == row]
            self._rows[key] = self._pooled(runs, metric, f"{self.table}/{row}", truth=False)
        return self._rows[key]

    def seed(self, run: RunRecord, metric: str) -> Estimate:
        """One run's replicates: the interval over test images of that seed alone."""
        recorded = run.measures[metric].value
        return Estimate(None, "no value") if recorded is None else self._replicates(run, metric, recorded, False)

    def truth(self, section: Section, metric: str) -> Estimate:
        rows = {e.row for e in section.rows}
        runs = [r for r in self._runs if r.row in rows]
        return self._pooled(runs, metric, f"{self.table}/ground_truth/{section.id}", truth=True)

    def counts_by_verdict(self) -> dict[str, int]:
        out = {REPRODUCED: 0, REVERSED: 0, UNRESOLVED: 0, NOT_ASSESSED: 0}
        for verdicts in self.verdicts.values():
            for v in verdicts:
                out[v.verdict] += 1
        return out

    # ------------------------------------------------------------------------------------------ internals

    def _pooled(self, runs: Sequence[RunRecord], metric: str, key: str, truth: bool) -> Estimate:
        per_seed = []
        for run in runs:
            recorded = (run.ground_truth if truth else run.measures)[metric]
            if recorded.value is None:
                continue
            estimate = self._replicates(run, metric, recorded.value, truth)
            if estimate.replicates is None:
                return estimate
            per_seed.append(estimate.replicates)
        if not per_seed:
            return Estimate(None, f"no run has a value for {metric}")
        return Estimate(bootstrap.pool_seeds(per_seed, key))

    def _replicates(self, run: RunRecord, metric: str, recorded: float, truth: bool) -> Estimate:
        reverse = metric.startswith(REVERSE)
        base = metric.removeprefix(REVERSE)
        stats = (self._reverse_stats if reverse else self._stats)[(run.row, run.seed)]
        if isinstance(stats, str):
            return Estimate(None, stats)
        names_key = "fcn_gt_names" if truth else "names"
        if names_key not in stats:
            return Estimate(None, f"{run.name}: per_image.npz has no {names_key}")
        names = [str(n) for n in stats[names_key]]
        if sorted(names) != self.names:
            return Estimate(None, f"{run.name}: its test images differ from the other runs', so no paired resample")
        order = np.argsort(names, kind="stable")
        grouped = _grouped(base, truth)
        if grouped is not None:
            arrays, score, function = grouped
            if not all(a in stats for a in arrays):
                return Estimate(None, f"{run.name}: per_image.npz has no {' or '.join(arrays)}")
            inputs = [stats[a][order] for a in arrays]
            full = function(*inputs, np.ones((1, len(order)), dtype=np.int64))[score][0]
            if not math.isclose(full, recorded, rel_tol=1e-9, abs_tol=1e-12):
                return Estimate(None, _mismatch(run, metric, full, recorded))
            cached = self._fcn.setdefault((run.row, run.seed, ("reverse/" if reverse else "") + arrays[-1]), {})
            if not cached:
                cached.update(function(*inputs, self.counts))
            return Estimate(cached[score])
        if base in ("ssim", "psnr"):
            if base not in stats:
                return Estimate(None, f"{run.name}: per_image.npz has no {base}")
            values = stats[base][order]
            replicates, full = bootstrap.mean_replicates(values, self.counts), float(np.mean(values))
        else:
            if not all(k in stats for k in per_image.FEATURE_KEYS):
                return Estimate(None, f"{run.name}: per_image.npz has no Inception features")
            real, fake = (stats[k][order] for k in per_image.FEATURE_KEYS)
            function = bootstrap.fid_replicates if base == "fid" else bootstrap.kid_replicates
            subset = self.counts[: bootstrap.FID_REPLICATES] if base == "fid" else self.counts
            replicates = function(real, fake, subset)
            full = float(function(real, fake, np.ones((1, len(order)), dtype=np.int64))[0])
        tolerance = TOLERANCE[base]
        if tolerance and not math.isclose(full, recorded, rel_tol=tolerance[0], abs_tol=tolerance[1]):
            return Estimate(None, _mismatch(run, metric, full, recorded))
        return Estimate(replicates)

    def difference(self, row: str, other: str, metric: str, sign: float = 1.0) -> Comparison:
        """``sign · (row − other)`` on ``metric`` with its paired interval; the verdict says whether the interval
        lies above 0 (``reproduced``), below 0 (``reversed``) or spans it."""
        first, second = self.row(row, metric), self.row(other, metric)
        mean_first, mean_second = self._mean(row, metric), self._mean(other, metric)
        point = None if mean_first is None or mean_second is None else sign * (mean_first - mean_second)
        if first.replicates is None or second.replicates is None or point is None:
            return Comparison(other, point, None, NOT_ASSESSED, first.reason or second.reason or "no value")
        length = min(len(first.replicates), len(second.replicates))
        bounds = bootstrap.interval(sign * (first.replicates[:length] - second.replicates[:length]))
        if bounds is None:
            return Comparison(other, point, None, NOT_ASSESSED, "undefined replicates")
        return Comparison(
            other, point, bounds, REPRODUCED if bounds[0] > 0 else REVERSED if bounds[1] < 0 else UNRESOLVED
        )

    def _verdict(self, section: Section, claim: Claim) -> Verdict:
        sign = -1.0 if claim.metric in LOWER_IS_BETTER else 1.0
        metric = measure_key(section.metric, claim.metric, section.rows[0].direction)  # one direction (spec)
        comparisons = tuple(self.difference(claim.better, worse, metric, sign) for worse in claim.worse)
        return Verdict(claim, comparisons, _combine([c.verdict for c in comparisons]))

    def _mean(self, row: str, metric: str) -> float | None:
        return summarize([r.measures[metric] for r in self._runs if r.row == row]).mean


def _combine(verdicts: Sequence[str]) -> str:
    """One verdict for a claim over several comparisons ("best"): any reversal reverses it; it is reproduced
    only if every comparison is; a missing comparison leaves it not assessed."""
    if REVERSED in verdicts:
        return REVERSED
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    return NOT_ASSESSED if NOT_ASSESSED in verdicts else UNRESOLVED


def _grouped(metric: str, truth: bool) -> tuple[tuple[str, ...], str, Callable[..., dict[str, np.ndarray]]] | None:
    """For a score computed with others from the same per-image arrays: (those arrays, the score's name, the
    replicate function); None for the other metrics."""
    if metric in FCN_KEYS:
        return ("fcn_gt_confusion" if truth else "fcn_confusion",), metric, bootstrap.fcn_replicates
    if metric.startswith(LABELMAP):
        return ("labelmap_confusion",), metric.removeprefix(LABELMAP), bootstrap.fcn_replicates
    if metric.startswith(COLORHIST):
        return ("colorhist_real", "colorhist_fake"), metric.removeprefix(COLORHIST), bootstrap.colorhist_replicates
    return None


def _load(run: RunRecord, reverse: bool = False) -> dict[str, np.ndarray] | str:
    """The run's per-image arrays (of its reverse generator's evaluation with ``reverse``), or why there are
    none; a file that metrics.json names but that is missing or altered is an error naming the run, as any
    other missing input of the report."""
    record, folder = (run.reverse_per_image, run.reverse_dir) if reverse else (run.per_image, run.eval_dir)
    if record is None:
        return (
            NO_STATS if not reverse else "the run's second generator was not evaluated (`ganrepro evaluate --reverse`)"
        )
    try:
        return per_image.read(folder, record)
    except UserError as err:
        raise UserError(f"{run.name}: {err}") from None


def _mismatch(run: RunRecord, metric: str, full: float, recorded: float) -> str:
    return (
        f"{run.name}: per_image.npz gives {metric} {full:.6g} on the whole test set but metrics.json records "
        f"{recorded:.6g}; re-run `ganrepro evaluate` on the run"
    )
