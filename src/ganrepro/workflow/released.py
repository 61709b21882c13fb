"""The authors' released generators in a table build: which apply, where they go, and their two commands.

A table section may name released models (``released:`` in params/tables/*.yaml, checked by
:mod:`ganrepro.workflow.spec`).  In a build they become two jobs each, beside the trained rows::

    results/{dataset}/{profile}/released/{id}/                 the imported run directory (RUN_DIR)
        checkpoints/final.pt                                   ``ganrepro import-checkpoint`` (fetch + verify + import)
        eval/test-trainmode/metrics.json                       ``ganrepro evaluate``, the rows' own command line

A released model applies only where the build's dataset is its dataset and the table's resolution is the one
it was trained at; elsewhere (the generated set, a 64 px profile) it is skipped and the report says why.  Its
config is the table's base config with the runs' own ``data.*`` keys (the same test images, resize and
direction) and the released network's keys, so the evaluation differs from a row's only in the generator.
The file is fetched by the datasets' download code: ``--mirror`` serves it from ``MIRROR/released/{id}/``; a
published sha256 is checked before anything is written, and without one the first fetch pins the hash in
``{data_dir}/datasets.lock.json`` ("trust on first use", as for dataset archives).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ganrepro.config import Config, ConfigError, load_config
from ganrepro.metrics import METRIC_NAMES
from ganrepro.runfiles import CHECKPOINTS_DIR, FINAL_CHECKPOINT, METRICS_FILE
from ganrepro.workflow.checks import as_mapping, check_keys
from ganrepro.workflow.command_lines import assignments, logged, set_flags

if TYPE_CHECKING:
    from ganrepro.workflow.plan import Plan


#: A released model's source: a URL the datasets' download code can fetch, or a file path.
RELEASED_URL_SCHEMES = ("http://", "https://", "file://")


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


def parse_released(value: Any, where: str) -> tuple[Released, ...]:
    """``released:`` of a section: a list of ``{id, label, url | path, sha256, arch, dataset, size, set}``."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}.released must be a list, got {value!r}")
    out: list[Released] = []
    for index, body in enumerate(value):
        at = f"{where}.released[{index}]"
        check_keys(
            body, at, required=("id", "label", "sha256", "arch", "dataset", "size"), optional=("url", "path", "set")
        )
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
        overrides = dict(as_mapping(body.get("set") or {}, f"{at}.set"))
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


#: The folder under a build's results holding the imported released models (never a table name).
RELEASED_DIR = "released"


@dataclass(frozen=True)
class Skipped:
    """A released model a section names that this build does not evaluate, and why."""

    entry: Released
    reason: str


class ReleasedModels:
    """The released models of one :class:`~ganrepro.workflow.plan.Plan`: paths and command lines by id."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    # ------------------------------------------------------------------------------------------ which apply

    @cached_property
    def declared(self) -> dict[str, tuple[Released, str]]:
        """Every released model named anywhere, by id, with the first table naming it (whose data keys it
        takes); one id names one model, so two different entries under the same id are refused."""
        out: dict[str, tuple[Released, str]] = {}
        for name, spec in self.plan.tables.items():
            if name == RELEASED_DIR:
                raise ConfigError(
                    f"{spec.path}: a table may not be called {RELEASED_DIR!r} (the released models' folder in results/)"
                )
            for section in spec.sections:
                for entry in section.released:
                    known = out.get(entry.id)
                    if known is not None and known[0] != entry:
                        raise ConfigError(
                            f"{spec.path}: sections[{section.id}].released: id {entry.id!r} is declared "
                            f"differently in table {known[1]!r}; one id, one model"
                        )
                    out.setdefault(entry.id, (entry, name))
        return out

    def skip_reason(self, entry: Released) -> str | None:
        """Why this build does not evaluate ``entry`` (None: it does)."""
        if entry.dataset != self.plan.dataset:
            return f"trained on {entry.dataset}; this build is {self.plan.dataset}"
        size = self.plan.crop_size(self.declared[entry.id][1])
        if size != entry.size:
            return f"trained at {entry.size}×{entry.size}; this build generates at {size}×{size}"
        return None

    @cached_property
    def entries(self) -> dict[str, Released]:
        """The released models this build evaluates, by id."""
        return {rid: entry for rid, (entry, _) in self.declared.items() if self.skip_reason(entry) is None}

    def for_table(self, table: str) -> list[Released]:
        """The released models evaluated for ``table``, each once, in section order."""
        found = {e.id: e for s in self.plan.table(table).sections for e in s.released if e.id in self.entries}
        return list(found.values())

    def skipped(self, released: tuple[Released, ...]) -> list[Skipped]:
        return [Skipped(e, reason) for e in released if (reason := self.skip_reason(e)) is not None]

    def entry(self, rid: str) -> Released:
        if rid not in self.entries:
            raise ConfigError(
                f"no released model {rid!r} applies to {self.plan.dataset}/{self.plan.profile_name}"
                + (f"; applicable: {', '.join(self.entries)}" if self.entries else "")
            )
        return self.entries[rid]

    # ------------------------------------------------------------------------------------------ the config

    def overrides(self, rid: str) -> dict[str, Any]:
        """The import's ``--set`` keys: the runs' ``data.*`` keys, then the released network's own keys."""
        entry, table = self.entry(rid), self.declared[rid][1]
        row, seed = next(iter(self.plan.table(table).rows)), self.plan.profile.seeds[0]
        data = {k: v for k, v in self.plan.overrides(table, row, seed).items() if k.startswith("data.")}
        return {**data, **entry.set}

    def config(self, rid: str) -> Config:
        """The config ``import-checkpoint`` writes into the run directory (what the report checks it against)."""
        from ganrepro.commands.importer import import_defaults

        entry, table = self.entry(rid), self.declared[rid][1]
        sets = [*import_defaults(entry.arch), *assignments(self.overrides(rid))]
        return load_config([self.plan.table(table).base_config], sets)

    def validate(self) -> None:
        """Each model names a known dataset (else it would silently never apply); each applicable model's
        config resolves, and it reads the test split exactly as the table's rows."""
        from ganrepro.preparation.registry import load_registry

        known = load_registry()
        for rid, (entry, table) in self.declared.items():
            if entry.dataset not in known:
                raise ConfigError(
                    f"{self.plan.table(table).path}: released {rid!r}: dataset {entry.dataset!r} is not "
                    f"in params/datasets.yaml (known: {', '.join(sorted(known))})"
                )
            if rid not in self.entries:
                continue
            ours = self.plan.config(table, next(iter(self.plan.table(table).rows)), self.plan.profile.seeds[0])
            if self.config(rid).data != ours.data:
                raise ConfigError(
                    f"{self.plan.table(table).path}: released {rid!r} would read other data than the "
                    "table's rows; remove data keys from its set"
                )

    # ------------------------------------------------------------------------------------------ the paths
    # Plain formatting of ``rid``, never checked against :attr:`entries`: the rules pass ``"{rid}"`` and get
    # the path with Snakemake's wildcard in it.

    def run_dir(self, rid: str) -> str:
        return f"{self.plan.results}/{RELEASED_DIR}/{rid}"

    def final_checkpoint(self, rid: str) -> str:
        """The imported weights: where a trained run's final checkpoint is, so the rows' evaluation reads them."""
        return f"{self.run_dir(rid)}/{CHECKPOINTS_DIR}/{FINAL_CHECKPOINT}"

    def metrics_json(self, rid: str) -> str:
        return f"{self.run_dir(rid)}/{METRICS_FILE}"

    def import_log(self, rid: str) -> str:
        return self.plan.log(RELEASED_DIR, rid, "import")

    def evaluate_log(self, rid: str) -> str:
        return self.plan.log(RELEASED_DIR, rid, "evaluate")

    def segmenter_checkpoint(self, rid: str) -> str:
        """The scorer its evaluation reads: the one trained at the model's own resolution."""
        return self.plan.segmenter_checkpoint(self.entry(rid).size)

    def metrics_files(self, table: str) -> list[str]:
        """What the report of ``table`` reads besides its rows."""
        return [self.metrics_json(e.id) for e in self.for_table(table)]

    def mirror_base(self, rid: str) -> str | None:
        """Where the build's mirror holds this model: ``MIRROR/released/{id}/{file name}``."""
        return f"{self.plan.mirror.rstrip('/')}/{RELEASED_DIR}/{rid}" if self.plan.mirror else None

    def source_name(self, rid: str) -> str:
        entry = self.entry(rid)
        return PurePosixPath(urlsplit(entry.source).path if entry.is_url else entry.source).name

    # ------------------------------------------------------------------------------------------ the commands

    def import_command(self, rid: str) -> str:
        """Fetch (verified, mirror honoured), import into the run directory: one ``import-checkpoint``."""
        entry, table = self.entry(rid), self.declared[rid][1]
        argv = [
            "ganrepro",
            "import-checkpoint",
            entry.source,
            "--arch",
            entry.arch,
            "--config",
            self.plan.table(table).base_config,
            *set_flags(self.overrides(rid)),
            "--data-dir",
            self.plan.data_dir,
        ]
        if entry.sha256:
            argv += ["--sha256", entry.sha256]
        mirror = self.mirror_base(rid)
        if mirror and entry.is_url:
            argv += ["--mirror", mirror]
        argv += ["--out", self.run_dir(rid)]
        return logged(argv, self.import_log(rid))

    def evaluate_command(self, rid: str) -> str:
        """The rows' evaluation command line (:meth:`Plan.evaluate_argv`) on the imported run directory."""
        segmenter = ["--segmenter", self.segmenter_checkpoint(rid)]
        naming = [t for t in self.plan.tables if any(e.id == rid for e in self.for_table(t))]
        wanted = {m for t in naming for m in self.plan.evaluation_metrics(t)}  # what the rows beside it get
        metrics = [m for m in METRIC_NAMES if m in wanted]
        argv = self.plan.evaluate_argv(self.run_dir(rid), segmenter, metrics)
        return logged(argv, self.evaluate_log(rid))
