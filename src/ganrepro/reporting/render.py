"""The report as markdown text: header, one table per paper section, orderings, figures, run provenance.

Rendering is a pure function of the collected runs, the params and the figure links, so the same inputs
always give the same text (no clock, no absolute paths of this machine).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ganrepro.reporting.aggregate import (
    Summary,
    format_summary,
    ordering,
    spearman,
    summarize,
)
from ganrepro.reporting.certainty import Certainty, Estimate
from ganrepro.reporting.claims import claim_lines, contrast_lines, how_sure, verdict_counts
from ganrepro.reporting.collect import COLORHIST_KEYS, FCN_KEYS, REVERSE, Measure, RunRecord, measure_key
from ganrepro.reporting.facts import BuildFacts, describe
from ganrepro.reporting.released import ReleasedRecord, notes_lines, row_label
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.spec import Section

COLUMN_NAMES = {"pixel_acc": "per-pixel acc.", "class_acc": "per-class acc.", "class_iou": "class IoU"}
#: (metrics key, heading, decimals) of the image-quality columns.
QUALITY = (("fid", "FID ↓", 3), ("kid", "KID ↓", 4), ("ssim", "SSIM ↑", 3))
GROUND_TRUTH_LABEL = "Ground truth (real photos)"
ORDERING_NAMES = {"pixel_acc": "per-pixel accuracy", "L": "the L intersection", "fid": "FID (lower first)"}
#: How each kind of section is scored, said under its title.
SCORED_BY = {
    "fcn": "",
    "labelmap": (
        "; generated label maps decoded to classes by nearest palette colour and compared with the "
        "true class maps (no segmenter)"
    ),
    "colorhist": "; histogram intersection of all generated vs all real pixels' L, a, b values (1 = identical)",
    "fid": "; FID and KID of the generated test images against the real ones (lower is better)",
}
REVERSE_TEXT = ", by each run's second generator (G_B) on the reverse direction: the same runs as the labels→photo rows"
FCN_PROTOCOL_TEXT = {
    "pix2pix": "images upsampled to the label maps' resolution and segmented there, as pix2pix's evaluation script",
    "logits": "segmented at the generated size, logits upsampled",
}


@dataclass(frozen=True)
class ReportInput:
    plan: Plan
    table: str
    runs: Sequence[RunRecord]
    facts: BuildFacts
    certainty: Certainty
    released: Sequence[ReleasedRecord] = ()  # the authors' models beside the rows (reporting.released)


class Footnotes:
    """Numbered reasons for "n/a" cells; an identical reason gets one number however often it is cited."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def mark(self, reasons: Sequence[str]) -> str:
        return "".join(f"[^{self._ids.setdefault(' '.join(r.split()), len(self._ids) + 1)}]" for r in reasons)

    def lines(self) -> list[str]:
        return [f"[^{number}]: {reason}" for reason, number in self._ids.items()]


def render_markdown(data: ReportInput, links: dict[str, dict[str, str]]) -> str:
    """The whole report; ``links[section_id][kind]`` is each figure's path relative to the markdown file."""
    notes = Footnotes()
    parts = [*_header(data)]
    for section in data.plan.table(data.table).sections:
        parts += _section(data, section, links.get(section.id, {}), notes)
    parts += how_sure(len(data.plan.profile.seeds))
    parts += _provenance(data, notes)
    if notes.lines():
        parts += ["## Notes", "", *notes.lines(), ""]
    return "\n".join(parts).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------------------------- header


def regenerate_command(plan: Plan, table: str) -> str:
    config = [f"dataset={plan.dataset}", f"profile={plan.profile_name}"]
    if plan.data_dir != "data":
        config.append(f"data_dir={plan.data_dir}")
    return shlex.join(["snakemake", "--cores", "N", plan.report(table), "--config", *config])


def _header(data: ReportInput) -> list[str]:
    plan, facts = data.plan, data.facts
    spec, profile = plan.table(data.table), plan.profile
    seeds = ", ".join(str(s) for s in profile.seeds)
    epochs = describe(facts.epochs, lambda e: f"{e[0] + e[1]} ({e[0]} constant + {e[1]} decaying)")
    total_epochs = describe(facts.epochs, lambda e: str(e[0] + e[1]))
    lines = [f"# {spec.title}: {plan.dataset}, profile {plan.profile_name}", ""]
    if not profile.replication:
        lines += [
            "> [!WARNING]",
            (
                f"> **NOT A REPLICATION: do not cite these numbers as the papers' results.** Profile "
                f"`{plan.profile_name}` ({profile.description}) trains at "
                f"{describe(facts.crop_sizes, lambda s: f'{s}×{s}')} px for {total_epochs} epoch(s) on "
                f"{plan.dataset}; {_what_differs(facts.crop_sizes)} what the papers measured. "
                "The profile exercises the pipeline; it does not reproduce the papers."
            ),
            "",
        ]
    if not facts.data_agrees:
        lines += [
            "> [!CAUTION]",
            (
                "> **WARNING: THE RUNS DO NOT AGREE ON THE DATA.** They were trained or evaluated on different "
                "prepared datasets, so their numbers are not comparable:"
            ),
            ">",
        ]
        lines += [f"> - `{h or 'unknown'}`: {', '.join(names)}" for h, names in facts.data_hashes.items()]
        lines += [""]
    data_hash = (
        f"`{next(iter(facts.data_hashes)) or 'unknown (no manifest.json)'}` (all runs agree)"
        if facts.data_agrees
        else "**runs disagree, see the warning above**"
    )
    commit_label = "Code commit" if len(facts.commits) == 1 else "Code commits (runs used different ones)"
    lines += [
        f"- **Paper:** {spec.citation}",
        f"- **Dataset:** {plan.dataset}; data hash {data_hash}",
        f"- **Profile:** `{plan.profile_name}`: {profile.description}",
        f"- **Resolution:** {describe(facts.crop_sizes, lambda s: f'{s}×{s}')} (crop size)",
        f"- **Epochs:** {epochs}",
        f"- **Batch size:** {describe(facts.batch_sizes)}",
        f"- **Seeds:** {seeds} (n = {len(profile.seeds)}"
        + ("; ours are mean ± sample standard deviation over seeds)" if len(profile.seeds) > 1 else ")"),
        f"- **{commit_label}:** {describe(facts.commits, lambda c: f'`{c}`')}",
        f"- **ganrepro version:** {describe(facts.versions)}",
        f"- **Date:** {facts.date or 'unknown'}: {facts.date_source}",
        (
            f"- **FCN-scores:** per-pixel accuracy, per-class accuracy and class IoU of a `{profile.segmenter_arch}` "
            f"segmenter trained on the dataset's training photos, protocol `{profile.fcn_protocol}` "
            f"({FCN_PROTOCOL_TEXT[profile.fcn_protocol]}); the ground-truth row scores the real test photos resized "
            "to the generated size like the images they stand beside"
        )
        if spec.needs_segmenter
        else (
            "- **Scores:** per-pixel accuracy, per-class accuracy and class IoU of the generated label maps, decoded "
            "to classes by nearest palette colour and compared with the true class maps (no segmenter)"
        ),
        (
            "- **How sure:** each of our cells is followed by its 95% interval [low, high] from a bootstrap over "
            'test images and seeds (see "How sure these numbers are")'
        ),
        f"- **Paper orderings:** {verdict_counts(data.certainty)} at 95% confidence (listed under each section)",
        f"- **Regenerate:** `{regenerate_command(plan, data.table)}` (N = CPU cores to use)",
        "",
    ]
    return lines


# ------------------------------------------------------------------------------------------------ sections


def _cell(summary: Summary, notes: Footnotes, digits: int = 3, estimate: Estimate | None = None) -> str:
    """``mean ± std [low, high]``: the seeds' summary, then the bootstrap interval (or why there is none)."""
    text = format_summary(summary, digits) + notes.mark(summary.reasons)
    if summary.mean is None or estimate is None:
        return text
    bounds = estimate.bounds
    if bounds is None:
        why = estimate.reason or "some resamples have no defined value (e.g. PSNR of an identical pair)"
        return f"{text} [no interval]{notes.mark([why])}"
    return f"{text} [{bounds[0]:.{digits}f}, {bounds[1]:.{digits}f}]"


def _paper(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def columns(section: Section, direction: str = "forward") -> list[tuple[str, str, int]]:
    """(measure key, heading, decimals) of our columns in a section: the FCN-scores and image quality
    (labels→photo), the decoded label maps' scores (photo→labels), the L, a, b intersections, or FID and KID."""
    if section.metric == "fcn":
        ours = [(k, f"ours {COLUMN_NAMES[k]}", 3) for k in FCN_KEYS] + list(QUALITY)
    elif section.metric == "labelmap":
        ours = [(measure_key("labelmap", k), f"ours {COLUMN_NAMES[k]}", 3) for k in FCN_KEYS]
    elif section.metric == "colorhist":
        ours = [(measure_key("colorhist", k), f"ours {k}", 3) for k in COLORHIST_KEYS]
    else:
        ours = [(k, h, d) for k, h, d in QUALITY if k in ("fid", "kid")]
    return [(REVERSE + k if direction == "reverse" else k, h, d) for k, h, d in ours]


def _section(data: ReportInput, section: Section, links: dict[str, str], notes: Footnotes) -> list[str]:
    plan = data.plan
    spec = plan.table(data.table)
    by_row = {row: [r for r in data.runs if r.row == row] for row in spec.rows}
    n = len(plan.profile.seeds)
    lines = [
        f"## {section.title}",
        "",
        (
            f"Source: {section.source}. Paper setting: {section.paper_setting or spec.paper_setting or 'not stated'}. "
            f"Ours: {plan.dataset}, profile `{plan.profile_name}`, n = {n} seed{'s' if n != 1 else ''} per row"
            f"{SCORED_BY[section.metric]}{_reverse_text(section)}."
        ),
        "",
    ]
    ours = columns(section)
    headings = ["Row", *(h for _, h, _ in ours), *(f"paper {COLUMN_NAMES.get(c, c)}" for c in section.paper_columns)]
    lines += ["| " + " | ".join(headings) + " |", "|---|" + "---:|" * (len(headings) - 1)]
    ours_first: list[tuple[str, Summary, float | None]] = []
    first_column = section.paper_columns[0]
    for entry in section.rows:
        runs, keys = by_row[entry.row], columns(section, entry.direction)
        summaries = [summarize([r.measures[k] for r in runs]) for k, _, _ in keys]
        paper = list(entry.paper) if entry.paper else [None] * len(section.paper_columns)
        cells = [
            _escape(entry.label),
            *(_cell(s, notes, d, data.certainty.row(entry.row, k)) for s, (k, _, d) in zip(summaries, keys)),
            *(_paper(v) for v in paper),
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if entry.paper:
            ours_first.append((entry.label, summaries[0], entry.paper[0]))
    released = [r for r in data.released if r.entry in section.released]
    for record in released:  # one imported checkpoint: no seeds, no interval; no paper number of its own
        cells = [
            _escape(row_label(record)),
            *(_cell(summarize([record.measures[k]]), notes, d) for k, _, d in ours),
            *("—" for _ in section.paper_columns),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for other in section.not_trained:
        cells = [
            _escape(other.label),
            *(f"not trained here{notes.mark([other.note])}" if i == 0 else "—" for i in range(len(ours))),
            *(_paper(v) for v in other.paper),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if section.metric == "fcn" and section.direction == "forward":
        section_runs = [r for e in section.rows for r in by_row[e.row]]
        truth = [_truth([r.ground_truth[k] for r in section_runs]) for k in FCN_KEYS]
        paper_truth = list(section.ground_truth) if section.ground_truth else [None] * len(section.paper_columns)
        truth_cells = (_cell(s, notes, 3, data.certainty.truth(section, k)) for s, k in zip(truth, FCN_KEYS))
        lines.append(
            "| "
            + " | ".join([GROUND_TRUTH_LABEL, *truth_cells, *("—" for _ in QUALITY), *(_paper(v) for v in paper_truth)])
            + " |"
        )
    lines += [
        "",
        *notes_lines(released, plan.released.skipped(section.released), next(iter(data.facts.data_hashes), None)),
    ]
    lines += _orderings(
        ours_first, ORDERING_NAMES.get(first_column, first_column), lower_is_better=first_column in ("fid", "kid")
    )
    labels = {e.row: e.label for e in section.rows}
    lines += claim_lines(data.certainty.verdicts.get(section.id, []), labels, notes.mark)
    lines += contrast_lines(
        data.certainty,
        section.contrast,
        labels,
        lambda row, metric: summarize([r.measures[metric] for r in by_row[row]]).std,
        notes.mark,
    )
    for kind, caption in (("samples", "Sample outputs"), ("losses", "Training losses")):
        if kind in links:
            lines += [f"![{caption}: {section.title}]({_link(links[kind])})", ""]
    return lines


def _reverse_text(section: Section) -> str:
    """Which rows are scored by CycleGAN's second generator (all, some or none of the section's)."""
    reverse = [e.label for e in section.rows if e.direction == "reverse"]
    if not reverse or len(reverse) == len(section.rows):
        return REVERSE_TEXT if reverse else ""
    return (
        f"; {', '.join(reverse)}: by the run's second generator (G_B) on the reverse direction, the other rows "
        "trained in this direction"
    )


def _truth(measures: Sequence[Measure]) -> Summary:
    """The real photos' score is one number per scorer, repeated in every run; shown once when the runs
    agree, as mean ± std over the runs when they do not (a different scorer somewhere)."""
    summary = summarize(measures)
    return replace(summary, std=None) if len({m.value for m in measures if m.value is not None}) == 1 else summary


def _orderings(
    rows: list[tuple[str, Summary, float | None]], what: str = "per-pixel accuracy", lower_is_better: bool = False
) -> list[str]:
    """Ours vs the paper's ranking by the section's first column, over the rows that have both numbers."""
    both = [(label, s.mean, p) for label, s, p in rows if s.mean is not None and p is not None]
    if not rows:
        return []
    if len(both) < 2:
        return [f"Ordering by {what}: fewer than two rows have both our and the paper's number.", ""]
    labels = [b[0] for b in both]
    sign = -1.0 if lower_is_better else 1.0
    ours, paper = [sign * float(b[1]) for b in both], [sign * float(b[2]) for b in both]
    rho = spearman(ours, paper)
    rho_text = "undefined (no spread)" if rho is None else f"{rho:.3f}"
    return [
        (
            f"Ordering by {what} ({len(both)} rows with paper numbers): "
            f"ours {_escape(ordering(labels, ours))}; paper {_escape(ordering(labels, paper))}; "
            f"Spearman rank correlation {rho_text}."
        ),
        "",
    ]


def _link(path: str) -> str:
    return f"<{path}>" if any(c in path for c in " ()") else path


# ---------------------------------------------------------------------------------------------- provenance


def _provenance(data: ReportInput, notes: Footnotes) -> list[str]:
    """One line per run, with its own per-pixel accuracy and the interval over test images of that seed alone
    (the tables pool the seeds)."""
    lines = [
        "## Runs",
        "",
        (
            "Every number above comes from these runs' `eval/test-trainmode/metrics.json`; the last column is "
            "each run's per-pixel accuracy with its 95% interval over test images alone."
        ),
        "",
        (
            "| Row | Seed | Run dir | Config digest | Checkpoint sha256 | Step | Epoch | Data hash | Code commit | "
            "Per-pixel acc. |"
        ),
        "|---|---:|---|---|---|---:|---:|---|---|---:|",
    ]
    key = "pixel_acc" if data.plan.table(data.table).needs_segmenter else measure_key("labelmap", "pixel_acc")
    for r in data.runs:
        commits = ", ".join(f"`{_short_commit(c)}`" for c in dict.fromkeys(r.commits)) or "unknown"
        pixel = _cell(summarize([r.measures[key]]), notes, 3, data.certainty.seed(r, key))
        lines.append(
            f"| {r.row} | {r.seed} | `{r.run_dir.as_posix()}` | `{r.config_digest}` | "
            f"`{r.checkpoint_sha256[:12]}` | {r.step} | {r.epoch} | `{(r.data_hash or 'unknown')[:12]}` | "
            f"{commits} | {pixel} |"
        )
    shared = [f"{r.row}/seed{r.seed}" for r in data.runs if not data.plan.owns(data.table, r.row, r.seed)]
    if shared:
        lines += [
            "",
            f"{', '.join(shared)}: the same resolved config (config digest) as a run of another table or row. That "
            "run is trained and evaluated once, and its directory is the one named here.",
        ]
    return [*lines, ""]


def _short_commit(commit: str) -> str:
    dirty = commit.endswith("-dirty")
    return commit.removesuffix("-dirty")[:12] + ("-dirty" if dirty else "")


def _what_differs(crop_sizes: Iterable[int]) -> str:
    """What a non-replication profile changes: the schedule always; the resolution when below the papers' 256 px."""
    small = min(crop_sizes, default=0) < 256
    return "images this small and schedules this short change" if small else "a schedule this short changes"
