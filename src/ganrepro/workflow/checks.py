"""The checks every params file shares: where params files are, reading one, and strict mappings.

Tables (:mod:`.spec`), profiles (:mod:`.profile`) and released-model entries (:mod:`.released`) are each
parsed into typed, frozen objects by their own module; all of them read YAML through
:func:`ganrepro.yamlio.load_mapping` (duplicate keys refused) and check keys with :func:`check_keys`, so that
every mistake is one line naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganrepro.errors import ConfigError
from ganrepro.paths import params_dir
from ganrepro.yamlio import load_mapping


def available(kind: str) -> list[str]:
    """Names of the tables or profiles under params/."""
    return sorted(p.stem for p in (params_dir() / kind).glob("*.yaml"))


def read_named(kind: str, name: str) -> tuple[Path, dict[str, Any]]:
    """params/{kind}s/{name}.yaml as a mapping; an unknown name lists the known ones."""
    path = params_dir() / f"{kind}s" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown {kind} {name!r} (no {path}); known: {', '.join(available(f'{kind}s'))}")
    return path, load_mapping(path, f"{kind} file")


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {value!r}")
    return value


def check_keys(body: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    as_mapping(body, where)
    missing = [k for k in required if k not in body]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(required + optional)}")
