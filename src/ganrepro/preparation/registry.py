"""The dataset registry (``params/datasets.yaml``) as typed, validated objects.

Everything the other stages need to know about a data set (where it comes from, how to check it, what its
halves mean, its classes and colours) lives in that one YAML file, so adding a data set is a registry edit,
not a code change.  Loading validates every entry once, so a typo fails with the entry's name instead of a
KeyError deep inside a download.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganrepro.errors import ConfigError, DataError
from ganrepro.paths import data_dir as resolve_data_dir
from ganrepro.paths import params_dir

KINDS = ("aligned", "unaligned", "both")
RECIPES = ("aligned", "unaligned", "cityscapes", "synthetic")
FORMATS = ("tar.gz", "tgz", "tar", "tar.bz2", "tar.xz", "zip")
DIRECTIONS = ("AtoB", "BtoA", None)
SIDES = ("A", "B", None)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class LabelSet:
    """Class names and colours of a label set; ``kind`` says how label maps are obtained.

    ``colour``: decoded from colour maps by nearest palette colour (facades). ``label_ids``: mapped from
    integer label ids through ``label_id_to_train_id`` (Cityscapes gtFine).
    """

    name: str
    kind: str
    classes: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]
    ignore_index: int = 255
    label_id_to_train_id: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchiveSpec:
    """One file to fetch: its name (also its name on a mirror), official URL, format and expected hash."""

    file: str
    url: str
    format: str
    sha256: str | None = None
    size: int | None = None

    @property
    def stem(self) -> str:
        """The file name without its archive suffix: the name of its folder under ``extracted/``."""
        for suffix in sorted(FORMATS, key=len, reverse=True):
            if self.file.endswith("." + suffix):
                return self.file[: -len(suffix) - 1]
        return self.file


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry (see the comments at the top of params/datasets.yaml)."""

    name: str
    family: str
    kind: str
    recipe: str
    archives: tuple[ArchiveSpec, ...]
    splits: dict[str, int]
    image_size: int
    photo_side: str | None
    labels_to_photo: str | None
    labels: LabelSet | None
    domains: dict[str, str] = field(default_factory=dict)
    root: str | None = None
    manual: bool = False
    generator: dict[str, int] = field(default_factory=dict)


def default_registry_path() -> Path:
    return params_dir() / "datasets.yaml"


def load_registry(path: str | os.PathLike[str] | None = None) -> dict[str, DatasetSpec]:
    """All registry entries by name, validated; ConfigError names the entry and key that is wrong."""
    from ganrepro.yamlio import load_mapping

    path = Path(path) if path is not None else default_registry_path()
    raw = load_mapping(path, "dataset registry")
    if not isinstance(raw.get("datasets"), dict):
        raise ConfigError(f"{path}: expected top-level 'datasets' (and 'label_sets') mappings")
    label_sets = {name: _label_set(name, body, path) for name, body in (raw.get("label_sets") or {}).items()}
    return {name: _dataset(name, body, label_sets, path) for name, body in raw["datasets"].items()}


def get_spec(name: str, registry: dict[str, DatasetSpec] | None = None) -> DatasetSpec:
    """One entry; UserError listing the known names when ``name`` is not registered."""
    registry = registry if registry is not None else load_registry()
    if name not in registry:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(sorted(registry))}")
    return registry[name]


def dataset_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``{data_dir}/{name}``: raw/, extracted/ and prepared/ live inside."""
    return resolve_data_dir(data_dir) / name


def raw_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    return dataset_dir(name, data_dir) / "raw"


def extracted_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    return dataset_dir(name, data_dir) / "extracted"


def prepared_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``{data_dir}/{name}/prepared``: what the trainers and metrics read."""
    return dataset_dir(name, data_dir) / "prepared"


def dataset_state(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None = None) -> str:
    """``prepared`` (a readable manifest), ``downloaded`` (every raw archive present) or ``absent``."""
    from ganrepro.preparation.manifest import load_manifest

    prepared = prepared_dir(spec.name, data_dir)
    if (prepared / "manifest.json").is_file():
        try:
            load_manifest(prepared)
            return "prepared"
        except DataError:
            pass
    raw = raw_dir(spec.name, data_dir)
    if spec.archives and all((raw / a.file).is_file() for a in spec.archives):
        return "downloaded"
    return "absent"


# ---------------------------------------------------------------------------------------------- validation


def _fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}")


def _require(body: dict[str, Any], key: str, where: str, path: Path) -> Any:
    if key not in body:
        raise _fail(path, where, f"missing key {key!r}")
    return body[key]


def _label_set(name: str, body: Any, path: Path) -> LabelSet:
    where = f"label_sets.{name}"
    if not isinstance(body, dict):
        raise _fail(path, where, "expected a mapping")
    classes = tuple(str(c) for c in _require(body, "classes", where, path))
    colours = tuple(tuple(int(v) for v in c) for c in _require(body, "colours", where, path))
    if len(colours) != len(classes) or any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colours):
        raise _fail(path, where, f"need one RGB colour (0..255) per class ({len(classes)} classes)")
    if len(set(colours)) != len(colours):
        raise _fail(path, where, "colours must be distinct")
    kind = _require(body, "kind", where, path)
    if kind not in ("colour", "label_ids"):
        raise _fail(path, where, f"kind must be 'colour' or 'label_ids', got {kind!r}")
    table = {int(k): int(v) for k, v in (body.get("label_id_to_train_id") or {}).items()}
    if kind == "label_ids" and not table:
        raise _fail(path, where, "kind 'label_ids' needs label_id_to_train_id")
    if any(not 0 <= v < len(classes) for v in table.values()) or any(not 0 <= k <= 255 for k in table):
        raise _fail(path, where, "label_id_to_train_id maps 0..255 to class indices")
    ignore = int(body.get("ignore_index", 255))
    if ignore < len(classes) or ignore > 255:
        raise _fail(path, where, "ignore_index must be >= the number of classes and <= 255")
    return LabelSet(name, kind, classes, colours, ignore, table)  # type: ignore[arg-type]


def _archive(body: Any, where: str, path: Path) -> ArchiveSpec:
    if not isinstance(body, dict):
        raise _fail(path, where, "each archive is a mapping with file, url, format, sha256")
    file = str(_require(body, "file", where, path))
    if "/" in file or "\\" in file or file.startswith("."):
        raise _fail(path, where, f"archive file must be a plain file name, got {file!r}")
    fmt = str(_require(body, "format", where, path))
    if fmt not in FORMATS:
        raise _fail(path, where, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    sha = body.get("sha256")
    if sha is not None and not _SHA256.match(str(sha)):
        raise _fail(path, where, f"sha256 must be 64 lower-case hex digits or null, got {sha!r}")
    size = body.get("size")
    return ArchiveSpec(file, str(_require(body, "url", where, path)), fmt, sha, int(size) if size else None)


def _dataset(name: str, body: Any, label_sets: dict[str, LabelSet], path: Path) -> DatasetSpec:
    where = f"datasets.{name}"
    if not isinstance(body, dict):
        raise _fail(path, where, "expected a mapping")
    kind = _require(body, "kind", where, path)
    recipe = _require(body, "recipe", where, path)
    if kind not in KINDS:
        raise _fail(path, where, f"kind must be one of {KINDS}, got {kind!r}")
    if recipe not in RECIPES:
        raise _fail(path, where, f"recipe must be one of {RECIPES}, got {recipe!r}")
    archives = tuple(_archive(a, f"{where}.archives[{i}]", path) for i, a in enumerate(body.get("archives") or []))
    if not archives and recipe != "synthetic":
        raise _fail(path, where, "needs at least one archive")
    files = [a.file for a in archives]
    if len(set(files)) != len(files):
        raise _fail(path, where, "archive file names must be distinct")
    photo_side, direction = body.get("photo_side"), body.get("labels_to_photo")
    if photo_side not in SIDES or direction not in DIRECTIONS:
        raise _fail(path, where, "photo_side is A|B|null and labels_to_photo AtoB|BtoA|null")
    labels = body.get("labels")
    if labels is not None and labels not in label_sets:
        raise _fail(path, where, f"unknown label set {labels!r}")
    if labels is not None and (photo_side is None or direction is None):
        raise _fail(path, where, "a data set with labels needs photo_side and labels_to_photo")
    splits = {str(k): int(v) for k, v in (body.get("splits") or {}).items()}
    return DatasetSpec(
        name=name,
        family=str(_require(body, "family", where, path)),
        kind=kind,
        recipe=recipe,
        archives=archives,
        splits=splits,
        image_size=int(_require(body, "image_size", where, path)),
        photo_side=photo_side,
        labels_to_photo=direction,
        labels=label_sets[labels] if labels is not None else None,
        domains={str(k): str(v) for k, v in (body.get("domains") or {}).items()},
        root=body.get("root"),
        manual=bool(body.get("manual", False)),
        generator={str(k): int(v) for k, v in (body.get("generator") or {}).items()},
    )
