"""The report's text about certainty: the verdict count of the header, each section's claims with their
verdicts, and the definitions a reader needs to interpret the intervals (kept beside the numbers they define).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ganrepro.reporting import bootstrap
from ganrepro.reporting.certainty import (
    NOT_ASSESSED,
    REPRODUCED,
    REVERSED,
    UNRESOLVED,
    Certainty,
    Comparison,
    Verdict,
)

METRIC_LABELS = {
    "pixel_acc": "per-pixel acc.",
    "class_acc": "per-class acc.",
    "class_iou": "class IoU",
    "fid": "FID",
    "kid": "KID",
    "ssim": "SSIM",
    "psnr": "PSNR",
    "L": "L intersection",
    "a": "a intersection",
    "b": "b intersection",
}
DIGITS = {"kid": 4, "psnr": 2}


def verdict_counts(certainty: Certainty) -> str:
    """``7 of 9 paper orderings reproduced, 1 reversed, 1 unresolved`` (+ ``, 2 not assessed`` when any)."""
    counts = certainty.counts_by_verdict()
    total = sum(counts.values())
    if not total:
        return "none claimed in this table's sections"
    text = (
        f"{counts[REPRODUCED]} of {total} paper orderings reproduced, {counts[REVERSED]} reversed, "
        f"{counts[UNRESOLVED]} unresolved"
    )
    return text + (f", {counts[NOT_ASSESSED]} not assessed" if counts[NOT_ASSESSED] else "")


def claim_lines(
    verdicts: Sequence[Verdict], labels: Mapping[str, str], mark: Callable[[Sequence[str]], str]
) -> list[str]:
    """A section's claims: verdict, the claim, our oriented difference with its interval, and the source."""
    if not verdicts:
        return []
    lines = [
        (
            "The paper's orderings (our difference, oriented so that > 0 agrees with the paper, with its 95% "
            "paired bootstrap interval):"
        ),
        "",
    ]
    for v in verdicts:
        claim = v.claim
        metric = METRIC_LABELS[claim.metric]
        better = _escape(labels[claim.better])
        if claim.best:
            what = f"{better} best on {metric}"
            detail = "; ".join(
                f"vs {_escape(labels[c.worse])} {_difference(c, claim.metric, mark)}" for c in v.comparisons
            )
        else:
            what = f"{better} > {_escape(labels[claim.worse[0]])} on {metric}"
            detail = _difference(v.comparisons[0], claim.metric, mark)
        lines.append(f"- **{v.verdict}**: {what}: {detail}. Source: {_escape(claim.source)}.")
    return [*lines, ""]


def contrast_lines(
    certainty: Certainty,
    contrast: tuple[str, str] | None,
    labels: Mapping[str, str],
    seed_std: Callable[[str, str], float | None],
    mark: Callable[[Sequence[str]], str],
) -> list[str]:
    """``A − B`` per FCN-score with its paired interval, beside the larger seed spread of the two rows: does
    the difference between the two rows exceed what another seed would change?"""
    if contrast is None:
        return []
    row, other = contrast
    parts, resolved, assessed = [], 0, 0
    for metric in ("pixel_acc", "class_acc", "class_iou"):
        c = certainty.difference(row, other, metric)
        spreads = [s for s in (seed_std(row, metric), seed_std(other, metric)) if s is not None]
        spread = f"; seed std up to {max(spreads):.3f}" if spreads else ""
        parts.append(f"{METRIC_LABELS[metric]} {_difference(c, metric, mark)}{spread}")
        if c.bounds is not None:
            assessed += 1
            resolved += c.verdict in (REPRODUCED, REVERSED)
    summary = f"the interval excludes 0 for {resolved} of {assessed} metrics" if assessed else "not assessed"
    return [
        (
            f"Difference {_escape(labels[row])} − {_escape(labels[other])} (95% paired bootstrap interval; "
            f"{summary}): {'; '.join(parts)}."
        ),
        "",
    ]


def _difference(c: Comparison, metric: str, mark: Callable[[Sequence[str]], str]) -> str:
    digits = DIGITS.get(metric, 3)
    if c.difference is None:
        return f"n/a{mark([c.reason or 'no value'])}"
    text = f"{c.difference:+.{digits}f}"
    if c.bounds is None:
        return f"{text} [no interval]{mark([c.reason or 'no interval'])}"
    return f"{text} [{c.bounds[0]:+.{digits}f}, {c.bounds[1]:+.{digits}f}]"


def how_sure(n_seeds: int) -> list[str]:
    """The definitions behind every interval and verdict of the report."""
    seeds = (
        "With one seed per row it is the interval over test images alone."
        if n_seeds == 1
        else f"With {n_seeds} seeds the seed part is itself a bootstrap of {n_seeds} values: it understates the "
        f"between-seed variance of the mean by the factor ({n_seeds} − 1)/{n_seeds} and says little about it; "
        "more seeds say more."
    )
    return [
        "## How sure these numbers are",
        "",
        (
            f"Each cell of ours is `mean ± std over seeds [low, high]`; [low, high] is the 2.5–97.5 % percentile "
            f"interval of {bootstrap.REPLICATES} bootstrap replicates. A replicate resamples the test images with "
            "replacement and recomputes the metric from the evaluation's per-image statistics: FCN-scores from the "
            "summed confusion matrices of the drawn images (not a mean of per-image scores), SSIM as the mean over "
            "the drawn pairs, FID and KID from the drawn images' Inception features (FID on the first "
            f"{bootstrap.FID_REPLICATES} replicates only, each needs a matrix factorisation; KID as the unbiased "
            "MMD² of the whole drawn set, the reported KID whenever the test set is at most 1000 images). Then it "
            "pools seeds: the replicate of a row is the mean, over the row's seeds drawn with replacement, of those "
            f"seeds' values on the same image resample. {seeds} The Runs table gives each seed's own per-pixel "
            "accuracy interval, over test images alone."
        ),
        "",
        (
            f"The image resample is one fixed draw (seed {bootstrap.SEED}) shared by every row, seed and section of "
            "the table, so a difference between two rows is paired: both are measured on the same drawn images. "
            'A claimed ordering "A > B" is **reproduced** if the interval of A − B lies above 0 (B − A for FID and '
            "KID, where lower is better), **reversed** if it lies below 0, and **not resolved at 95%** otherwise; "
            '"A best" is reproduced if A beats every other row of the section so, reversed if any row beats A so, '
            "and unresolved otherwise. The ground-truth row's interval resamples the real photos the same way."
        ),
        "",
        (
            "These intervals measure the test set and the seeds, not the scorer: the FCN-score's segmenter and the "
            "Inception network are held fixed, and the paper's own numbers come without intervals."
        ),
        "",
    ]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
