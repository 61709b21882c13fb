"""Numbers over seeds and orderings of rows: the only arithmetic the report does.

Seeds are summarised as mean ± sample standard deviation (n − 1), the spread an independent rerun would
show; a seed whose metric is unavailable is left out of that metric's summary and the count says so.
Orderings compare rows by one metric, ours against the paper's, with ties kept as ties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ganrepro.reporting.collect import Measure


@dataclass(frozen=True)
class Summary:
    """A metric over the seeds of one row: mean, sample std (None for one value), how many seeds had it."""

    mean: float | None
    std: float | None
    n: int
    total: int
    reasons: tuple[str, ...]  # why seeds are missing, in first-seen order, without repeats

    @property
    def available(self) -> bool:
        return self.n > 0


def summarize(measures: Sequence[Measure]) -> Summary:
    values = [m.value for m in measures if m.value is not None]
    reasons = tuple(dict.fromkeys(m.reason or "no value" for m in measures if m.value is None))
    if not values:
        return Summary(None, None, 0, len(measures), reasons)
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return Summary(mean, std, len(values), len(measures), reasons)


def format_summary(summary: Summary, digits: int = 3) -> str:
    """``0.512 ± 0.010``, ``0.512`` for one seed, ``0.512 ± 0.010 (n=2 of 3)`` when seeds are missing;
    ``n/a`` when no seed has the metric (the caller adds the footnote)."""
    if summary.mean is None:
        return "n/a"
    text = f"{summary.mean:.{digits}f}"
    if summary.std is not None:
        text += f" ± {summary.std:.{digits}f}"
    if summary.n != summary.total:
        text += f" (n={summary.n} of {summary.total})"
    return text


def ordering(labels: Sequence[str], values: Sequence[float]) -> str:
    """Labels from highest to lowest value, ``>`` between ranks and ``=`` within a tie."""
    groups: list[tuple[float, list[str]]] = []
    for label, value in sorted(zip(labels, values), key=lambda item: -item[1]):
        if groups and math.isclose(groups[-1][0], value, rel_tol=0, abs_tol=1e-12):
            groups[-1][1].append(label)
        else:
            groups.append((value, [label]))
    return " > ".join(" = ".join(names) for _, names in groups)


def spearman(ours: Sequence[float], paper: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get average ranks); None where it is undefined: fewer than two
    rows, or one side has no spread."""
    if len(ours) < 2 or len(set(ours)) < 2 or len(set(paper)) < 2:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr(ours, paper).statistic)
