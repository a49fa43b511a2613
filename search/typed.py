"""Build dataclasses from plain dicts (YAML) with type checks and errors that name the key."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union

from search.errors import ConfigError


def from_dict(cls: type, data: Any, *, key: str = "", path: str | None = None) -> Any:
    """Instantiate dataclass `cls` from `data`, rejecting unknown keys and wrong types.

    `key` is the dotted prefix of this section (for messages), `path` the file it came from.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", path=path, key=key or None)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{key}.{unknown[0]}" if key else unknown[0]
        raise ConfigError(f"unknown key (known: {', '.join(sorted(names))})", path=path, key=where)
    values = {}
    for name, value in data.items():
        where = f"{key}.{name}" if key else name
        values[name] = coerce(hints[name], value, key=where, path=path)
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:  # __post_init__ checks
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(str(error), path=path, key=key or None) from error


def coerce(annotation: Any, value: Any, *, key: str, path: str | None) -> Any:
    """Check `value` against a type annotation, converting YAML's lists to tuples where asked."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return coerce(option, value, key=key, path=path)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"must be one of {list(args)}, got {value!r}", path=path, key=key)
        return value
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, key=key, path=path)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected a list, got {value!r}", path=path, key=key)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"expected {len(args)} values, got {len(value)}", path=path, key=key)
            return tuple(coerce(a, v, key=key, path=path) for a, v in zip(args, value, strict=True))
        item = args[0] if args else Any
        items = [coerce(item, v, key=key, path=path) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"expected a mapping, got {value!r}", path=path, key=key)
        item = args[1] if len(args) == 2 else Any
        return {k: coerce(item, v, key=f"{key}.{k}", path=path) for k, v in value.items()}
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", path=path, key=key)
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected an integer, got {value!r}", path=path, key=key)
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"expected a number, got {value!r}", path=path, key=key)
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {value!r}", path=path, key=key)
        return value
    return value


def to_dict(obj: Any) -> Any:
    """A dataclass as plain JSON/YAML types (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
