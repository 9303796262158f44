"""A config setting is declared once: a dataclass field that carries its YAML key, its default, what
a person should write there and a range check. Validation (one line naming the key or the flag),
the list of known keys and the objects built from config.yaml all come from those fields.

The settings dataclasses live beside the code that uses them (``loop/detect.py``'s DetectorSettings,
``loop/track.py``'s TrackSettings, ``config.py``'s Config); a field without a key is not a setting.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import SiamfaceError


def is_cosine(value: float) -> bool:
    """The range check of every similarity setting."""
    return -1.0 <= value <= 1.0


def setting(
    key: str,
    default: Any,
    expected: str,
    check: Callable[[Any], bool] | None = None,
    accepts: tuple[type, ...] | None = None,
) -> Any:
    """A dataclass field that is the config setting ``key`` ("section.name", or "name" at the top).
    ``accepts``: the YAML types taken, when the annotation does not say (a camera index as a number)."""
    metadata = {"key": key, "expected": expected, "check": check, "accepts": accepts}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Declared:
    key: str
    field: dataclasses.Field
    accepts: tuple[type, ...]
    to_float: bool

    @property
    def expected(self) -> str:
        return self.field.metadata["expected"]

    @property
    def default(self) -> Any:
        f = self.field
        return f.default_factory() if f.default is dataclasses.MISSING else f.default


def declared(cls: type) -> list[Declared]:
    """The settings among ``cls``'s fields, with the YAML types their annotations accept."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        if "key" not in f.metadata:
            continue
        hint = hints[f.name]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        accepts: list[type] = []
        for option in options:
            base = typing.get_origin(option) or option
            accepts += [float, int] if base is float else [str] if base is Path else [base]
        found.append(Declared(f.metadata["key"], f, f.metadata["accepts"] or tuple(accepts), float in options))
    return found


def check(item: Declared, value: Any, where: str) -> Any:
    """``value`` for this setting, or one line naming ``where`` (a file, or a command-line flag)."""
    type_ok = isinstance(value, item.accepts) and not (isinstance(value, bool) and bool not in item.accepts)
    rule = item.field.metadata["check"]
    if not type_ok or (rule is not None and value is not None and not rule(value)):
        raise SiamfaceError(f"{where}={value!r}, expected {item.expected}")
    return float(value) if item.to_float and value is not None else value


def check_keys(data: Any, keys: list[str], where: str) -> dict[str, Any]:
    """``data`` flattened to {"section.name": value}: a mapping whose keys are all known, or one
    line naming the first unknown key and the known ones."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SiamfaceError(f"{where}: top level is {type(data).__name__}, expected a mapping")
    sections = {k.split(".")[0] for k in keys if "." in k}
    top = [k for k in keys if "." not in k]
    known_top = list(dict.fromkeys(k.split(".")[0] for k in keys))
    flat = {}
    for name, value in data.items():
        if name in sections:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise SiamfaceError(f"{where}: {name} is {type(value).__name__}, expected a mapping")
            inner = [k.split(".", 1)[1] for k in keys if k.startswith(f"{name}.")]
            for sub, sub_value in value.items():
                if sub not in inner:
                    raise SiamfaceError(f"{where}: unknown key {name}.{sub} (known keys here: {', '.join(inner)})")
                flat[f"{name}.{sub}"] = sub_value
        elif name in top:
            flat[name] = value
        else:
            raise SiamfaceError(f"{where}: unknown key {name} (known keys here: {', '.join(known_top)})")
    return flat
