"""The pipeline's two kinds of params files, loaded strictly: ablation tables and profiles.

``params/tables/NAME.yaml`` says *what* is trained (each row as config overrides, the paper's tables as
sections that name rows, the published numbers beside them); ``params/profiles/NAME.yaml`` says *how big*
(resolution, schedule, seeds, device) per dataset.  Both are validated here, once, so that the Snakefile,
``ganrepro dvc-yaml`` and ``ganrepro report`` read the same checked objects and a typo fails with the file
and key before any job starts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganrepro.errors import ConfigError
from ganrepro.metrics import METRIC_NAMES
from ganrepro.paths import params_dir
from ganrepro.yamlio import load_mapping

PAPER_METRICS = ("pixel_acc", "class_acc", "class_iou")
#: Metrics a claim may name: the FCN-scores and the image-quality numbers; FID and KID are better when lower.
CLAIM_METRICS = (*PAPER_METRICS, "fid", "kid", "ssim", "psnr")
LOWER_IS_BETTER = ("fid", "kid")
#: A released model's source: a URL the datasets' download code can fetch, or a file path.
RELEASED_URL_SCHEMES = ("http://", "https://", "file://")
#: How a profile groups a table's runs into packs (see :mod:`ganrepro.workflow.packs`).
PACK_MODES: tuple[str, ...] = ("none", "seeds", "compatible")
#: Metrics a claim may name in the other kinds of section (their own columns).
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
class Released:
    """A generator the authors published, evaluated beside a section's rows with the same protocol.

    It applies to a build only on its own ``dataset`` at its own resolution ``size`` (a U-Net 256 cannot run at
    64 px, and a model scored at a size it was not trained for would not be the authors' model).  ``sha256``
    is the published hash, or None where the authors publish none: the first verified fetch then pins it (as
    for dataset archives) and the report says so.  ``set`` holds non-data config keys that describe the
    released network (the data keys always come from the table, so that it sees the same test images).
    """

    id: str
    label: str
    source: str
    sha256: str | None
    arch: str
    dataset: str
    size: int
    set: dict[str, Any]

    @property
    def is_url(self) -> bool:
        return self.source.startswith(RELEASED_URL_SCHEMES)


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


@dataclass(frozen=True)
class PackPolicy:
    """How runs train together: ``mode`` (none | seeds | compatible) and at most ``max_size`` runs a pack.

    A GPU at batch 1 is mostly idle, so GPU profiles pack; CPU profiles gain nothing and keep ``none``."""

    mode: str = "none"
    max_size: int = 1

    @property
    def packing(self) -> bool:
        return self.mode != "none" and self.max_size > 1


@dataclass(frozen=True)
class Profile:
    """``params/profiles/NAME.yaml``: how big a build is.  Each field says the YAML key it comes from."""

    name: str  # the file name
    description: str  # `description`: one line for the report header
    replication: bool  # `replication`: false adds the "not a replication" warning to every report
    seeds: tuple[int, ...]  # `seeds`: every table row is trained once per seed; reports show mean ± std
    device: str  # `device`: auto | cpu | cuda | cuda:N, passed to train / evaluate / segmenter
    threads: int  # `threads`: CPU threads per job (Snakemake `threads:`; SLURM --cpus-per-task)
    gpus_per_job: int  # `gpus_per_job`: `resources: gpu=` of training, segmenter and evaluation jobs (0: none)
    runtime_min: int  # `runtime_min` (default 60): per training job, for cluster executors (SLURM --time)
    mem_mb: int  # `mem_mb` (default 4000): per training job, for cluster executors (SLURM --mem)
    segmenter_arch: str  # `segmenter.arch`: the FCN-score's scorer, trained at the rows' crop size
    segmenter_epochs: int  # `segmenter.epochs`
    metrics: tuple[str, ...]  # `metrics`: computed by `ganrepro evaluate` for every row and seed
    config: dict[str, Any]  # `config`: dotted overrides applied to every row of every table
    models: dict[str, dict[str, Any]]  # `models`: {pix2pix|cyclegan: overrides} for that model's rows
    #: `datasets`: {name: {config: ..., models: ...}} applied last, for that dataset only
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path = Path()  # the file
    #: `fcn.protocol` (default pix2pix): the FCN-score's resolution protocol.  pix2pix: each generated image is
    #: upsampled (PIL bilinear) to its label map's full resolution and segmented there, as pix2pix's
    #: scripts/eval_cityscapes does and as the papers' numbers were made, the segmenter trained on real photos
    #: taken through the same path; logits: segmented at the generated size, logits upsampled (cheaper; the two
    #: agree when labels have the generated size, as on facades).  See :mod:`ganrepro.metrics.fcn_protocol`.
    fcn_protocol: str = "pix2pix"
    #: `fcn.train_crop` (pix2pix protocol only; null or larger than the labels: whole images): the segmenter
    #: trains on random square crops of this side of the full-resolution images, bounding its cost, which grows
    #: with the label maps' pixels (Cityscapes labels are 2048x1024: its scorer belongs on a GPU).
    fcn_train_crop: int | None = None
    #: `pack` (default none): which runs train together in one job on one device (`ganrepro train-pack`): none,
    #: or {mode: seeds | compatible, max_size: N}.  seeds: the seeds of a row; compatible: every run of a table
    #: whose networks have the same shapes (rows differing only in seed and loss weights).  A build overrides it
    #: with --config pack=MODE[:N].  See :mod:`ganrepro.workflow.packs`.
    pack: PackPolicy = PackPolicy()

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
    return path, load_mapping(path, f"{kind} file")


def load_table(name: str) -> Table:
    path, raw = _read_named("table", name)
    where = str(path)
    _keys(
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
    for row_id, body in _mapping(raw["rows"], f"{where}: rows").items():
        _keys(body, f"{where}: rows.{row_id}", required=("label", "set"), optional=("model",))
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
            dict(_mapping(body["set"] or {}, f"rows.{row_id}.set")),
            None if model in (None, raw["model"]) else str(model),
        )
    sections, used, seen = [], set(), set()
    for index, body in enumerate(raw["sections"] or []):
        at = f"{where}: sections[{index}]"
        _keys(
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
            _keys(entry, f"{at}.rows[{j}]", required=("row",), optional=("label", "paper", "direction"))
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
                _released(body.get("released"), at),
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
        dict(_mapping(raw.get("base_set") or {}, f"{where}: base_set")),
        str(raw["citation"]),
        columns,
        str(raw.get("paper_setting", "")),
        rows,
        tuple(sections),
        path,
    )


def load_profile(name: str) -> Profile:
    path, raw = _read_named("profile", name)
    where = str(path)
    _keys(
        raw,
        where,
        required=("description", "replication", "seeds", "device", "threads", "gpus_per_job", "segmenter", "metrics"),
        optional=("config", "models", "datasets", "runtime_min", "mem_mb", "fcn", "pack"),
    )
    seeds = raw["seeds"]
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and s >= 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise ConfigError(f"{where}: seeds must be a non-empty list of distinct non-negative integers, got {seeds!r}")
    metrics = tuple(raw["metrics"])
    if not metrics or not set(metrics) <= set(METRIC_NAMES):
        raise ConfigError(f"{where}: metrics must be a non-empty subset of {', '.join(METRIC_NAMES)}")
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
    return Profile(
        name,
        str(raw["description"]),
        raw["replication"],
        tuple(seeds),
        str(raw["device"]),
        int(raw["threads"]),
        int(raw["gpus_per_job"]),
        int(raw.get("runtime_min", 60)),
        int(raw.get("mem_mb", 4000)),
        str(segmenter["arch"]),
        int(segmenter["epochs"]),
        metrics,
        dict(_mapping(raw.get("config") or {}, f"{where}: config")),
        models,
        datasets,
        path,
        fcn_protocol=protocol,
        fcn_train_crop=train_crop,
        pack=parse_pack(raw.get("pack", "none"), f"{where}: pack"),
    )


def parse_pack(value: Any, where: str, default_size: int | None = None) -> PackPolicy:
    """A ``pack:`` value: ``none``, ``{mode: MODE, max_size: N}``, or as text ``MODE`` / ``MODE:N`` (the form of
    an override on the command line, which keeps the profile's ``default_size`` when it gives no N)."""
    if isinstance(value, str) and value != "none":
        mode, colon, size = value.partition(":")
        if mode not in PACK_MODES:
            raise ConfigError(f"{where}: mode must be one of {', '.join(PACK_MODES)}, got {mode!r}")
        if colon and (not size.isdigit() or int(size) < 1):
            raise ConfigError(f"{where}: the size after ':' must be a positive integer, got {size!r}")
        if not colon and default_size is None:
            raise ConfigError(
                f"{where}: {value!r} needs a maximum pack size ({{mode: {value}, max_size: N}} in a "
                f"profile, {value}:N on the command line)"
            )
        value = {"mode": mode, "max_size": int(size) if colon else default_size}
    if value == "none":
        return PackPolicy()
    _keys(value, where, required=("mode", "max_size"), optional=())
    if value["mode"] not in PACK_MODES:
        raise ConfigError(f"{where}.mode must be one of {', '.join(PACK_MODES)}, got {value['mode']!r}")
    size = value["max_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"{where}.max_size must be a positive integer, got {size!r}")
    return PackPolicy(str(value["mode"]), size)


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


def _released(value: Any, where: str) -> tuple[Released, ...]:
    """``released:`` of a section: a list of ``{id, label, url | path, sha256, arch, dataset, size, set}``."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}.released must be a list, got {value!r}")
    out: list[Released] = []
    for index, body in enumerate(value):
        at = f"{where}.released[{index}]"
        _keys(body, at, required=("id", "label", "sha256", "arch", "dataset", "size"), optional=("url", "path", "set"))
        if not isinstance(body["id"], str) or not re.fullmatch(r"[A-Za-z0-9_]+", body["id"]):
            raise ConfigError(f"{at}.id must be letters, digits and underscores, got {body['id']!r}")
        if ("url" in body) == ("path" in body):
            raise ConfigError(f"{at}: give exactly one of 'url' (http(s):// or file://) and 'path'")
        source = str(body.get("url") or body.get("path") or "")
        if "url" in body and not source.startswith(RELEASED_URL_SCHEMES):
            raise ConfigError(f"{at}.url must start with http://, https:// or file://, got {source!r}")
        if "path" in body and (not source or source.startswith(RELEASED_URL_SCHEMES)):
            raise ConfigError(f"{at}.path must be a file path (use 'url' for URLs), got {source!r}")
        sha = body["sha256"]
        if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
            raise ConfigError(
                f"{at}.sha256 must be 64 lower-case hex digits, or null where none is published "
                f"(the first verified fetch then pins it), got {sha!r}"
            )
        size = body["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"{at}.size must be the positive resolution the model was trained at, got {size!r}")
        overrides = dict(_mapping(body.get("set") or {}, f"{at}.set"))
        data_keys = sorted(k for k in overrides if str(k).startswith("data."))
        if data_keys:
            raise ConfigError(
                f"{at}.set.{data_keys[0]}: data keys come from the table (same test images as its rows); remove it"
            )
        if any(r.id == body["id"] for r in out):
            raise ConfigError(f"{at}: duplicate released id {body['id']!r}")
        out.append(
            Released(
                body["id"], str(body["label"]), source, sha, str(body["arch"]), str(body["dataset"]), size, overrides
            )
        )
    return tuple(out)


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
