"""Ablation tables, loaded strictly, and the checks every params file shares (profiles: :mod:`.profile`).

``params/tables/NAME.yaml`` says *what* is trained (each row as config overrides, the paper's tables as
sections that name rows, the published numbers beside them); ``params/profiles/NAME.yaml`` says *how big*.
Both are validated once, so that the Snakefile, ``ganrepro dvc-yaml`` and ``ganrepro report`` read the same
checked objects and a typo fails with the file and key before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganrepro.errors import ConfigError
from ganrepro.metrics import METRIC_NAMES
from ganrepro.paths import params_dir
from ganrepro.workflow.checks import as_mapping, check_keys, read_named
from ganrepro.workflow.released import Released, parse_released

PAPER_METRICS = ("pixel_acc", "class_acc", "class_iou")
#: Metrics a claim may name: the FCN-scores and the image-quality numbers; FID and KID are better when lower.
CLAIM_METRICS = (*PAPER_METRICS, "fid", "kid", "ssim", "psnr")
LOWER_IS_BETTER = ("fid", "kid")
CLAIM_METRICS_BY_SECTION = {"labelmap": PAPER_METRICS, "colorhist": ("L", "a", "b"), "fid": ("fid", "kid")}
#: What a section's table scores (``metric:``), and the paper columns of each: ``fcn`` (labels→photo, the
#: segmenter's FCN-scores), ``labelmap`` (photo→labels: generated label maps decoded by palette colour, the same
#: three scores), ``colorhist`` (pix2pix's L, a, b histogram intersections) and ``fid``.  ``fcn`` and ``labelmap``
#: sections use the table's ``paper_columns``.
SECTION_METRICS: dict[str, tuple[str, ...]] = {
    "fcn": PAPER_METRICS,
    "labelmap": PAPER_METRICS,
    "colorhist": ("L", "a", "b"),
    "fid": ("fid",),
}
#: Which generator a section scores: ``forward`` (the run's own direction) or ``reverse`` (CycleGAN's other
#: generator, on the other direction: the same runs give labels→photo and photo→labels tables).
DIRECTIONS = ("forward", "reverse")


@dataclass(frozen=True)
class Row:
    """One trained configuration: ``overrides`` are dotted config keys applied over the table's base config."""

    id: str
    label: str
    overrides: dict[str, Any]
    model: str | None = None  # another model than the table's (e.g. pix2pix, the paired upper bound of CycleGAN)


@dataclass(frozen=True)
class SectionRow:
    row: str
    label: str
    paper: tuple[float, ...] | None
    direction: str = "forward"  # the section's, unless the entry says otherwise (a pix2pix row in a reverse section)


@dataclass(frozen=True)
class NotTrainedRow:
    """A row of the paper's table that this project does not train (another paper's method): shown with the
    paper's numbers and "not trained here", so that the table reads as published without a made-up number."""

    label: str
    paper: tuple[float, ...] | None
    note: str


@dataclass(frozen=True)
class Claim:
    """An ordering the paper claims between rows of one section, checked by the report at 95% confidence.

    ``better`` beats each row of ``worse`` on ``metric``; a ``best`` claim in the params file names one row and
    becomes ``worse`` = every other row of the section.  ``source`` says where the paper claims it.
    """

    better: str
    worse: tuple[str, ...]
    metric: str
    source: str
    best: bool = False


@dataclass(frozen=True)
class Section:
    """One of the paper's tables: rows that name trained rows, the source, the paper's ground-truth row and
    the orderings the paper claims among them."""

    id: str
    title: str
    source: str
    ground_truth: tuple[float, ...] | None
    rows: tuple[SectionRow, ...]
    claims: tuple[Claim, ...] = ()
    contrast: tuple[str, str] | None = None  # (row, reference row): their difference is reported on its own
    metric: str = "fcn"  # what the section scores (see SECTION_METRICS)
    direction: str = "forward"  # which generator: forward, or CycleGAN's reverse one (see DIRECTIONS)
    paper_columns: tuple[str, ...] = PAPER_METRICS  # the columns of its paper numbers and ground truth
    not_trained: tuple[NotTrainedRow, ...] = ()  # the paper's rows that are not trained here
    paper_setting: str = ""  # the paper's setting of this section when it is not the table's
    released: tuple[Released, ...] = ()  # the authors' models shown beside the rows (when the build matches)


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    model: str
    base_config: str
    base_set: dict[str, Any]
    citation: str
    paper_columns: tuple[str, ...]
    paper_setting: str
    rows: dict[str, Row]
    sections: tuple[Section, ...]
    path: Path

    def row_model(self, row_id: str) -> str:
        """The model a row trains: the table's, unless the row names another."""
        return self.rows[row_id].model or self.model

    def row_base_config(self, row_id: str) -> str:
        """The base config of a row: the table's, or ``params/{model}.yaml`` for a row of another model."""
        model = self.row_model(row_id)
        return self.base_config if model == self.model else f"params/{model}.yaml"

    def row_overrides(self, row_id: str) -> dict[str, Any]:
        """The table-wide overrides (for rows of the table's model), then the row's own."""
        base = self.base_set if self.row_model(row_id) == self.model else {}
        return {**base, **self.rows[row_id].overrides}

    @property
    def section_metrics(self) -> tuple[str, ...]:
        """The evaluation metrics the sections show beyond the profile's (``labelmap``, ``colorhist``, ``fid``)."""
        wanted = {s.metric for s in self.sections if s.metric != "fcn"}
        return tuple(m for m in METRIC_NAMES if m in wanted)

    @property
    def needs_segmenter(self) -> bool:
        """Whether a section shows FCN-scores (a table of photo→labels sections only needs no segmenter)."""
        return any(s.metric == "fcn" for s in self.sections)

    def scores_reverse(self, row_id: str) -> bool:
        """Whether a section scores this row's second generator (CycleGAN), so its evaluation must run it too."""
        return any(e.row == row_id and e.direction == "reverse" for s in self.sections for e in s.rows)


def load_table(name: str) -> Table:
    path, raw = read_named("table", name)
    where = str(path)
    check_keys(
        raw,
        where,
        required=("table", "title", "model", "base_config", "citation", "paper_columns", "rows", "sections"),
        optional=("base_set", "paper_setting"),
    )
    if raw["table"] != name:
        raise ConfigError(f"{where}: 'table: {raw['table']}' must equal the file name {name!r}")
    if raw["model"] not in ("pix2pix", "cyclegan"):
        raise ConfigError(f"{where}: model must be pix2pix or cyclegan, got {raw['model']!r}")
    columns = tuple(raw["paper_columns"])
    if not set(columns) <= set(PAPER_METRICS):
        raise ConfigError(f"{where}: paper_columns must be among {', '.join(PAPER_METRICS)}")
    rows = {}
    for row_id, body in as_mapping(raw["rows"], f"{where}: rows").items():
        check_keys(body, f"{where}: rows.{row_id}", required=("label", "set"), optional=("model",))
        model = body.get("model")
        if model is not None and (
            model not in ("pix2pix", "cyclegan") or not (params_dir() / f"{model}.yaml").is_file()
        ):
            raise ConfigError(
                f"{where}: rows.{row_id}.model must be pix2pix or cyclegan (with params/MODEL.yaml), got {model!r}"
            )
        rows[row_id] = Row(
            str(row_id),
            str(body["label"]),
            dict(as_mapping(body["set"] or {}, f"rows.{row_id}.set")),
            None if model in (None, raw["model"]) else str(model),
        )
    sections, used, seen = [], set(), set()
    for index, body in enumerate(raw["sections"] or []):
        at = f"{where}: sections[{index}]"
        check_keys(
            body,
            at,
            required=("id", "title", "source", "rows"),
            optional=(
                "ground_truth",
                "claims",
                "contrast",
                "metric",
                "direction",
                "not_trained",
                "paper_setting",
                "released",
            ),
        )
        if body["id"] in seen:
            raise ConfigError(f"{at}: duplicate section id {body['id']!r}")
        seen.add(body["id"])
        metric, direction = _choice(body, "metric", SECTION_METRICS, at), _choice(body, "direction", DIRECTIONS, at)
        section_columns = columns if metric in ("fcn", "labelmap") else SECTION_METRICS[metric]
        section_rows = []
        for j, entry in enumerate(body["rows"] or []):
            check_keys(entry, f"{at}.rows[{j}]", required=("row",), optional=("label", "paper", "direction"))
            if entry["row"] not in rows:
                raise ConfigError(
                    f"{at}.rows[{j}]: row {entry['row']!r} is not declared under rows (declared: {', '.join(rows)})"
                )
            used.add(entry["row"])
            row_direction = _choice(
                {"direction": entry.get("direction", direction)}, "direction", DIRECTIONS, f"{at}.rows[{j}]"
            )
            model = rows[entry["row"]].model or raw["model"]
            if row_direction == "reverse" and model != "cyclegan":
                raise ConfigError(
                    f"{at}.rows[{j}].direction: reverse scores CycleGAN's second generator; a {model} "
                    "run has one direction (train a row with data.direction reversed, and give it "
                    "direction: forward)"
                )
            section_rows.append(
                SectionRow(
                    entry["row"],
                    str(entry.get("label") or rows[entry["row"]].label),
                    _numbers(entry.get("paper"), len(section_columns), f"{at}.rows[{j}].paper"),
                    row_direction,
                )
            )
        if metric in ("colorhist", "fid") and body.get("ground_truth") is not None:
            raise ConfigError(
                f"{at}.ground_truth: a {metric} section compares with the real images themselves; remove it (null)"
            )
        sections.append(
            Section(
                str(body["id"]),
                str(body["title"]),
                str(body["source"]),
                _numbers(body.get("ground_truth"), len(section_columns), f"{at}.ground_truth"),
                tuple(section_rows),
                _claims(body.get("claims"), section_rows, at, metric),
                _contrast(body.get("contrast"), section_rows, at),
                metric,
                direction,
                section_columns,
                _not_trained(body.get("not_trained"), len(section_columns), at),
                str(body.get("paper_setting") or ""),
                parse_released(body.get("released"), at),
            )
        )
    unused = sorted(set(rows) - used)
    if unused:
        raise ConfigError(f"{where}: rows {', '.join(unused)} appear in no section")
    base = (
        params_dir().parent / raw["base_config"]
        if not Path(raw["base_config"]).is_absolute()
        else Path(raw["base_config"])
    )
    if not base.is_file():
        raise ConfigError(f"{where}: base_config {raw['base_config']} not found")
    return Table(
        name,
        str(raw["title"]),
        raw["model"],
        str(raw["base_config"]),
        dict(as_mapping(raw.get("base_set") or {}, f"{where}: base_set")),
        str(raw["citation"]),
        columns,
        str(raw.get("paper_setting", "")),
        rows,
        tuple(sections),
        path,
    )


def _contrast(value: Any, rows: list[SectionRow], where: str) -> tuple[str, str] | None:
    """``contrast: [ROW, REFERENCE_ROW]``: two rows of the section whose difference (ROW − REFERENCE_ROW) the
    report gives with its interval and beside the seed spread, e.g. the PyTorch port against the Lua code."""
    if value is None:
        return None
    names = {r.row for r in rows}
    if not isinstance(value, list) or len(value) != 2 or not set(value) <= names or value[0] == value[1]:
        raise ConfigError(f"{where}.contrast must name two different rows of the section, got {value!r}")
    return str(value[0]), str(value[1])


def _claims(value: Any, rows: list[SectionRow], where: str, section_metric: str = "fcn") -> tuple[Claim, ...]:
    """``claims:`` of a section: ``{better, worse, metric, source}`` or ``{best, metric, source}``, naming the
    section's own rows (a claim compares rows of one table of the paper) and one of the section's scores."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}.claims must be a list, got {value!r}")
    ids = [r.row for r in rows]
    out = []
    for index, body in enumerate(value):
        at = f"{where}.claims[{index}]"
        kind = ("best",) if isinstance(body, Mapping) and "best" in body else ("better", "worse")
        check_keys(body, at, required=(*kind, "metric", "source"), optional=())
        for key in kind:
            if body[key] not in ids:
                raise ConfigError(f"{at}.{key}: row {body[key]!r} is not in this section (its rows: {', '.join(ids)})")
        if len({r.direction for r in rows}) > 1:
            raise ConfigError(f"{at}: a section whose rows are scored in different directions makes no claims")
        allowed = CLAIM_METRICS if section_metric == "fcn" else CLAIM_METRICS_BY_SECTION[section_metric]
        if body["metric"] not in allowed:
            raise ConfigError(
                f"{at}.metric must be one of {', '.join(allowed)} in a {section_metric} section, got {body['metric']!r}"
            )
        if not isinstance(body["source"], str) or not body["source"].strip():
            raise ConfigError(f"{at}.source must say where the paper makes the claim (section, table, version)")
        better = str(body[kind[0]])
        worse = tuple(r for r in dict.fromkeys(ids) if r != better) if kind == ("best",) else (str(body["worse"]),)
        if better in worse:
            raise ConfigError(f"{at}: a row cannot be claimed better than itself ({better!r})")
        out.append(Claim(better, worse, str(body["metric"]), str(body["source"]), best=kind == ("best",)))
    return tuple(out)


def _choice(body: Mapping[str, Any], key: str, allowed: Mapping[str, Any] | tuple[str, ...], where: str) -> str:
    """``body[key]`` among ``allowed`` (the first is the default when the key is absent)."""
    value = body.get(key, next(iter(allowed)))
    if value not in allowed:
        raise ConfigError(f"{where}.{key} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _not_trained(value: Any, n: int, where: str) -> tuple[NotTrainedRow, ...]:
    """``not_trained: [{label, paper, note}]``: the paper's rows of methods this project does not train; ``note``
    says what the method is and where its numbers come from."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}.not_trained must be a list of {{label, paper, note}}, got {value!r}")
    out = []
    for index, body in enumerate(value):
        at = f"{where}.not_trained[{index}]"
        check_keys(body, at, required=("label", "paper", "note"), optional=())
        if not str(body["note"]).strip():
            raise ConfigError(f"{at}.note must say what the method is and where its numbers come from")
        paper = _numbers(body["paper"], n, f"{at}.paper")
        if paper is None:
            raise ConfigError(f"{at}.paper: a row not trained here is shown for the paper's numbers; give {n}")
        out.append(NotTrainedRow(str(body["label"]), paper, str(body["note"])))
    return tuple(out)


def _numbers(value: Any, n: int, where: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n or not all(isinstance(v, (int, float)) for v in value):
        raise ConfigError(f"{where} must be null or a list of {n} numbers (one per paper column), got {value!r}")
    return tuple(float(v) for v in value)
