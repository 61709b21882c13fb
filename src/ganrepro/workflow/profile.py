"""``params/profiles/NAME.yaml``, loaded strictly: how big a build is (resolution, schedule, seeds, device, packs).

A profile is chosen per build (``--config profile=NAME``); its keys are documented on :class:`Profile`'s fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganrepro.errors import ConfigError
from ganrepro.metrics import METRIC_NAMES
from ganrepro.workflow.checks import as_mapping, check_keys, read_named

#: How a profile groups a table's runs into packs (see :mod:`ganrepro.workflow.packs`).
PACK_MODES: tuple[str, ...] = ("none", "seeds", "compatible")
#: Metrics a claim may name in the other kinds of section (their own columns).


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
    #: `runtime_min` (default 60) and `mem_mb` (default 4000): per training job of one run, for cluster executors
    #: (SLURM --time, --mem); a pack's job asks more (:func:`ganrepro.workflow.packs.job_resources`)
    runtime_min: int
    mem_mb: int
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


def load_profile(name: str) -> Profile:
    path, raw = read_named("profile", name)
    where = str(path)
    check_keys(
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
    segmenter = as_mapping(raw["segmenter"], f"{where}: segmenter")
    check_keys(segmenter, f"{where}: segmenter", required=("arch", "epochs"), optional=())
    for key in ("threads", "runtime_min", "mem_mb"):
        if key in raw and (not isinstance(raw[key], int) or raw[key] < 1):
            raise ConfigError(f"{where}: {key} must be a positive integer, got {raw[key]!r}")
    if not isinstance(raw["gpus_per_job"], int) or raw["gpus_per_job"] < 0:
        raise ConfigError(f"{where}: gpus_per_job must be an integer >= 0, got {raw['gpus_per_job']!r}")
    if not isinstance(raw["replication"], bool):
        raise ConfigError(f"{where}: replication must be true or false")
    models = {str(k): dict(as_mapping(v or {}, f"{where}: models.{k}")) for k, v in (raw.get("models") or {}).items()}
    unknown = set(models) - {"pix2pix", "cyclegan"}
    if unknown:
        raise ConfigError(f"{where}: models has unknown model(s) {', '.join(sorted(unknown))}; use pix2pix or cyclegan")
    datasets = {}
    for name_, body in (raw.get("datasets") or {}).items():
        body = dict(as_mapping(body or {}, f"{where}: datasets.{name_}"))
        check_keys(body, f"{where}: datasets.{name_}", required=(), optional=("config", "models"))
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
        dict(as_mapping(raw.get("config") or {}, f"{where}: config")),
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
    check_keys(value, where, required=("mode", "max_size"), optional=())
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

    check_keys(body, where, required=(), optional=("protocol", "train_crop"))
    protocol = check_protocol(str(body.get("protocol", DEFAULT_PROTOCOL)), f"{where}.protocol")
    crop = body.get("train_crop")
    if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 1):
        raise ConfigError(f"{where}.train_crop must be null or a positive integer, got {crop!r}")
    if crop is not None and protocol != "pix2pix":
        raise ConfigError(f"{where}.train_crop applies to protocol pix2pix only; remove it for {protocol}")
    return protocol, crop
