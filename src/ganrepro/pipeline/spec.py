"""The pipeline's two kinds of params files, loaded strictly: ablation tables and profiles.

``params/tables/NAME.yaml`` says *what* is trained (each row as config overrides, the paper's tables as
sections that name rows, the published numbers beside them); ``params/profiles/NAME.yaml`` says *how big*
(resolution, schedule, seeds, device) per dataset.  Both are validated here, once, so that the Snakefile,
``ganrepro dvc-yaml`` and ``ganrepro report`` read the same checked objects and a typo fails with the file
and key before any job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganrepro.config import ConfigError, read_yaml_mapping
from ganrepro.paths import params_dir

PAPER_METRICS = ("pixel_acc", "class_acc", "class_iou")
EVAL_METRICS = ("fcn", "labelmap", "fid", "kid", "ssim", "psnr", "colorhist")
#: Metrics a claim may name: the FCN-scores and the image-quality numbers; FID and KID are better when lower.
CLAIM_METRICS = (*PAPER_METRICS, "fid", "kid", "ssim", "psnr")
LOWER_IS_BETTER = ("fid", "kid")
#: Metrics a claim may name in the other kinds of section (their own columns).
CLAIM_METRICS_BY_SECTION = {"labelmap": PAPER_METRICS, "colorhist": ("L", "a", "b"), "fid": ("fid", "kid")}
#: What a section's table scores (``metric:``), and the paper columns of each: ``fcn`` (labels→photo, the
#: segmenter's FCN-scores), ``labelmap`` (photo→labels: generated label maps decoded by palette colour, the same
#: three scores), ``colorhist`` (pix2pix's L, a, b histogram intersections) and ``fid``.  ``fcn`` and ``labelmap``
#: sections use the table's ``paper_columns``.
SECTION_METRICS: dict[str, tuple[str, ...]] = {
    "fcn": PAPER_METRICS, "labelmap": PAPER_METRICS, "colorhist": ("L", "a", "b"), "fid": ("fid",)}
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
        return tuple(m for m in EVAL_METRICS if m in wanted)

    @property
    def needs_segmenter(self) -> bool:
        """Whether a section shows FCN-scores (a table of photo→labels sections only needs no segmenter)."""
        return any(s.metric == "fcn" for s in self.sections)

    def scores_reverse(self, row_id: str) -> bool:
        """Whether a section scores this row's second generator (CycleGAN), so its evaluation must run it too."""
        return any(e.row == row_id and e.direction == "reverse" for s in self.sections for e in s.rows)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    replication: bool
    seeds: tuple[int, ...]
    device: str
    threads: int
    gpus_per_job: int
    runtime_min: int
    mem_mb: int
    segmenter_arch: str
    segmenter_epochs: int
    metrics: tuple[str, ...]
    config: dict[str, Any]
    models: dict[str, dict[str, Any]]
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path = Path()
    fcn_protocol: str = "pix2pix"  # the FCN-score's resolution protocol (see ganrepro.metrics.fcn_protocol)
    fcn_train_crop: int | None = None  # pix2pix protocol: the segmenter's training crop at label resolution

    def overrides(self, model: str, dataset: str) -> dict[str, Any]:
        """Dotted overrides for one model on one dataset: profile-wide, per model, then per dataset."""
        merged = {**self.config, **self.models.get(model, {})}
        per_dataset = self.datasets.get(dataset, {})
        merged.update(per_dataset.get("config", {}))
        merged.update((per_dataset.get("models") or {}).get(model, {}))
        return merged


# ------------------------------------------------------------------------------------------------- loading


def available(kind: str) -> list[str]:
    """Names of the tables or profiles under params/."""
    return sorted(p.stem for p in (params_dir() / kind).glob("*.yaml"))


def _read_named(kind: str, name: str) -> tuple[Path, dict[str, Any]]:
    """params/{kind}s/{name}.yaml as a mapping; an unknown name lists the known ones."""
    path = params_dir() / f"{kind}s" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown {kind} {name!r} (no {path}); known: {', '.join(available(f'{kind}s'))}")
    return path, read_yaml_mapping(path, f"{kind} file")


def load_table(name: str) -> Table:
    path, raw = _read_named("table", name)
    where = str(path)
    _keys(raw, where, required=("table", "title", "model", "base_config", "citation", "paper_columns", "rows",
                                "sections"), optional=("base_set", "paper_setting"))
    if raw["table"] != name:
        raise ConfigError(f"{where}: 'table: {raw['table']}' must equal the file name {name!r}")
    if raw["model"] not in ("pix2pix", "cyclegan"):
        raise ConfigError(f"{where}: model must be pix2pix or cyclegan, got {raw['model']!r}")
    columns = tuple(raw["paper_columns"])
    if not set(columns) <= set(PAPER_METRICS):
        raise ConfigError(f"{where}: paper_columns must be among {', '.join(PAPER_METRICS)}")
    rows = {}
    for row_id, body in _mapping(raw["rows"], f"{where}: rows").items():
        _keys(body, f"{where}: rows.{row_id}", required=("label", "set"), optional=("model",))
        model = body.get("model")
        if model is not None and (model not in ("pix2pix", "cyclegan") or not (params_dir() / f"{model}.yaml").is_file()):
            raise ConfigError(f"{where}: rows.{row_id}.model must be pix2pix or cyclegan (with params/MODEL.yaml), "
                              f"got {model!r}")
        rows[row_id] = Row(str(row_id), str(body["label"]), dict(_mapping(body["set"] or {}, f"rows.{row_id}.set")),
                           None if model in (None, raw["model"]) else str(model))
    sections, used, seen = [], set(), set()
    for index, body in enumerate(raw["sections"] or []):
        at = f"{where}: sections[{index}]"
        _keys(body, at, required=("id", "title", "source", "rows"),
              optional=("ground_truth", "claims", "contrast", "metric", "direction", "not_trained", "paper_setting"))
        if body["id"] in seen:
            raise ConfigError(f"{at}: duplicate section id {body['id']!r}")
        seen.add(body["id"])
        metric, direction = _choice(body, "metric", SECTION_METRICS, at), _choice(body, "direction", DIRECTIONS, at)
        section_columns = columns if metric in ("fcn", "labelmap") else SECTION_METRICS[metric]
        section_rows = []
        for j, entry in enumerate(body["rows"] or []):
            _keys(entry, f"{at}.rows[{j}]", required=("row",), optional=("label", "paper", "direction"))
            if entry["row"] not in rows:
                raise ConfigError(f"{at}.rows[{j}]: row {entry['row']!r} is not declared under rows "
                                  f"(declared: {', '.join(rows)})")
            used.add(entry["row"])
            row_direction = _choice({"direction": entry.get("direction", direction)}, "direction", DIRECTIONS,
                                    f"{at}.rows[{j}]")
            model = rows[entry["row"]].model or raw["model"]
            if row_direction == "reverse" and model != "cyclegan":
                raise ConfigError(f"{at}.rows[{j}].direction: reverse scores CycleGAN's second generator; a {model} "
                                  "run has one direction (train a row with data.direction reversed, and give it "
                                  "direction: forward)")
            section_rows.append(SectionRow(entry["row"], str(entry.get("label") or rows[entry["row"]].label),
                                           _numbers(entry.get("paper"), len(section_columns), f"{at}.rows[{j}].paper"),
                                           row_direction))
        if metric in ("colorhist", "fid") and body.get("ground_truth") is not None:
            raise ConfigError(f"{at}.ground_truth: a {metric} section compares with the real images themselves; "
                              "remove it (null)")
        sections.append(Section(str(body["id"]), str(body["title"]), str(body["source"]),
                                _numbers(body.get("ground_truth"), len(section_columns), f"{at}.ground_truth"),
                                tuple(section_rows), _claims(body.get("claims"), section_rows, at, metric),
                                _contrast(body.get("contrast"), section_rows, at), metric, direction,
                                section_columns, _not_trained(body.get("not_trained"), len(section_columns), at),
                                str(body.get("paper_setting") or "")))
    unused = sorted(set(rows) - used)
    if unused:
        raise ConfigError(f"{where}: rows {', '.join(unused)} appear in no section")
    base = params_dir().parent / raw["base_config"] if not Path(raw["base_config"]).is_absolute() else Path(raw["base_config"])
    if not base.is_file():
        raise ConfigError(f"{where}: base_config {raw['base_config']} not found")
    return Table(name, str(raw["title"]), raw["model"], str(raw["base_config"]),
                 dict(_mapping(raw.get("base_set") or {}, f"{where}: base_set")), str(raw["citation"]), columns,
                 str(raw.get("paper_setting", "")), rows, tuple(sections), path)


def load_profile(name: str) -> Profile:
    path, raw = _read_named("profile", name)
    where = str(path)
    _keys(raw, where, required=("description", "replication", "seeds", "device", "threads", "gpus_per_job",
                                "segmenter", "metrics"),
          optional=("config", "models", "datasets", "runtime_min", "mem_mb", "fcn"))
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: seeds must be a non-empty list of distinct non-negative integers, got {seeds!r}")
    metrics = tuple(raw["metrics"])
    if not metrics or not set(metrics) <= set(EVAL_METRICS):
        raise ConfigError(f"{where}: metrics must be a non-empty subset of {', '.join(EVAL_METRICS)}")
    segmenter = _mapping(raw["segmenter"], f"{where}: segmenter")
    _keys(segmenter, f"{where}: segmenter", required=("arch", "epochs"), optional=())
    for key in ("threads", "runtime_min", "mem_mb"):
        if key in raw and (not isinstance(raw[key], int) or raw[key] < 1):
            raise ConfigError(f"{where}: {key} must be a positive integer, got {raw[key]!r}")
    if not isinstance(raw["gpus_per_job"], int) or raw["gpus_per_job"] < 0:
        raise ConfigError(f"{where}: gpus_per_job must be an integer >= 0, got {raw['gpus_per_job']!r}")
    if not isinstance(raw["replication"], bool):
        raise ConfigError(f"{where}: replication must be true or false")
    models = {str(k): dict(_mapping(v or {}, f"{where}: models.{k}")) for k, v in (raw.get("models") or {}).items()}
    unknown = set(models) - {"pix2pix", "cyclegan"}
    if unknown:
        raise ConfigError(f"{where}: models has unknown model(s) {', '.join(sorted(unknown))}; use pix2pix or cyclegan")
    datasets = {}
    for name_, body in (raw.get("datasets") or {}).items():
        body = dict(_mapping(body or {}, f"{where}: datasets.{name_}"))
        _keys(body, f"{where}: datasets.{name_}", required=(), optional=("config", "models"))
        datasets[str(name_)] = body
    protocol, train_crop = _fcn(raw.get("fcn") or {}, f"{where}: fcn")
    return Profile(name, str(raw["description"]), raw["replication"], tuple(seeds), str(raw["device"]),
                   int(raw["threads"]), int(raw["gpus_per_job"]), int(raw.get("runtime_min", 60)),
                   int(raw.get("mem_mb", 4000)), str(segmenter["arch"]), int(segmenter["epochs"]), metrics,
                   dict(_mapping(raw.get("config") or {}, f"{where}: config")), models, datasets, path,
                   fcn_protocol=protocol, fcn_train_crop=train_crop)


def _fcn(body: Any, where: str) -> tuple[str, int | None]:
    """The ``fcn:`` mapping: ``protocol`` (pix2pix | logits, default pix2pix) and ``train_crop`` (null or a
    positive integer, pix2pix only: it crops full-resolution images, which logits never sees)."""
    from ganrepro.metrics.fcn_protocol import DEFAULT_PROTOCOL, check_protocol

    _keys(body, where, required=(), optional=("protocol", "train_crop"))
    protocol = check_protocol(str(body.get("protocol", DEFAULT_PROTOCOL)), f"{where}.protocol")
    crop = body.get("train_crop")
    if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 1):
        raise ConfigError(f"{where}.train_crop must be null or a positive integer, got {crop!r}")
    if crop is not None and protocol != "pix2pix":
        raise ConfigError(f"{where}.train_crop applies to protocol pix2pix only; remove it for {protocol}")
    return protocol, crop


# ------------------------------------------------------------------------------------------------- helpers


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {value!r}")
    return value


def _keys(body: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    _mapping(body, where)
    missing = [k for k in required if k not in body]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(required + optional)}")


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
        _keys(body, at, required=(*kind, "metric", "source"), optional=())
        for key in kind:
            if body[key] not in ids:
                raise ConfigError(f"{at}.{key}: row {body[key]!r} is not in this section (its rows: {', '.join(ids)})")
        if len({r.direction for r in rows}) > 1:
            raise ConfigError(f"{at}: a section whose rows are scored in different directions makes no claims")
        allowed = CLAIM_METRICS if section_metric == "fcn" else CLAIM_METRICS_BY_SECTION[section_metric]
        if body["metric"] not in allowed:
            raise ConfigError(f"{at}.metric must be one of {', '.join(allowed)} in a {section_metric} section, "
                              f"got {body['metric']!r}")
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
        _keys(body, at, required=("label", "paper", "note"), optional=())
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
