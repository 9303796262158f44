"""Validating nested YAML mappings against a schema, with one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from siamface.edge.errors import SiamfaceError


def check_section(
    data: Any, schema: dict[str, Any], prefix: str, where: str, ranges: dict[str, Callable[[Any], bool]]
) -> dict[str, Any]:
    """Flatten ``data`` to {"section.key": value} with defaults filled in, or raise one line naming the key.

    ``schema`` maps key -> (accepted types, default, what to write) or a nested schema;
    ``ranges`` maps "section.key" -> a predicate the value must pass.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SiamfaceError(
            f"{where}: {prefix.rstrip('.') or 'top level'} is {type(data).__name__}, expected a mapping"
        )
    unknown = sorted(set(data) - set(schema), key=str)
    if unknown:
        known = ", ".join(schema)
        raise SiamfaceError(f"{where}: unknown key {prefix}{unknown[0]} (known keys here: {known})")
    values: dict[str, Any] = {}
    for key, spec in schema.items():
        full = prefix + key
        if isinstance(spec, dict):
            values.update(check_section(data.get(key), spec, full + ".", where, ranges))
            continue
        types, default, expected = spec
        value = data.get(key, default)
        type_ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not type_ok or (full in ranges and value is not None and not ranges[full](value)):
            raise SiamfaceError(f"{where}: {full}={value!r}, expected {expected}")
        values[full] = value
    return values
