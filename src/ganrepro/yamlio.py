"""The one YAML reader for configs, tables, profiles, the dataset registry and run directories.

PyYAML's ``safe_load`` keeps the last of two equal keys in a mapping, so a file that sets ``lambda_l1`` twice
silently trains whichever came last; a reproduction cannot afford that.  :func:`load_yaml` refuses duplicate
keys (naming the key and both lines) and turns every way a file can be unreadable (missing, a directory, not
UTF-8, not YAML) into a one-line :class:`ConfigError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ganrepro.errors import ConfigError


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice (raised while constructing, carries both positions)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a repeated key instead of keeping the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may legitimately be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: let the base class raise its own error
                break
            if first is not None:
                raise DuplicateKeyError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {first.start_mark.line + 1}, again on line "
                    f"{key_node.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, UniqueKeyLoader.construct_mapping)


def parse_yaml(text: str, where: str = "<text>") -> Any:
    """Parse YAML text with duplicate keys refused; ConfigError names ``where``, the key and the line."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except DuplicateKeyError as err:
        raise ConfigError(f"{where}: {err.problem}; keep one of them") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        message = getattr(err, "problem", None) or " ".join(str(err).split())
        raise ConfigError(f"{where} is not valid YAML{line}: {message}; fix the file") from None


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """The parsed content of ``path``; ConfigError (one line naming ``what`` and the path) if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory; give the path of a YAML file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {err.start}); save it as UTF-8 YAML") from None
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror or err}") from None
    return parse_yaml(text, f"{what} {path}")


def load_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file holding a mapping (an empty file is {}); ConfigError naming ``what`` and the path otherwise."""
    data = load_yaml(path, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a mapping of keys, not {type(data).__name__}")
    return data
