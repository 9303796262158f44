"""Changing one value in config.yaml without losing its comments, order or anything else."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from ..atomic import write_text_atomically
from ..errors import SiamfaceError

_SECTION = re.compile(r"^match\s*:\s*(#.*)?$")


def set_threshold(path: Path, value: float, key: str = "threshold") -> None:
    """Set match.<key> (threshold or track_threshold) by editing that one line, then check the YAML
    means what it meant plus that."""
    line_of_key = re.compile(rf"^(\s+{key}\s*:\s*)([^#]*?)(\s*)(#.*)?$")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    written = f"{value:.4f}"
    original = yaml.safe_load(text) or {}
    section = next((i for i, line in enumerate(lines) if _SECTION.match(line.rstrip("\r\n"))), None)
    if section is None and "match" in original:
        raise SiamfaceError(f"{path}: match is not a block this tool can edit; set match.{key} to {written} by hand")
    if section is None:
        lines.append(f"{'' if text.endswith(chr(10)) or not text else chr(10)}match:\n  {key}: {written}\n")
    else:
        end = section + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
            end += 1
        for i in range(section + 1, end):
            body = lines[i].rstrip("\r\n")
            found = line_of_key.match(body)
            if found:
                start, old, gap, comment = found.groups()
                # Keep a trailing comment in its column when the new value is longer or shorter.
                gap = " " * max(1, len(old) + len(gap) - len(written)) if comment else ""
                lines[i] = start + written + gap + (comment or "") + lines[i][len(body) :]
                break
        else:
            lines.insert(section + 1, f"  {key}: {written}\n")
    new_text = "".join(lines)
    expected = copy.deepcopy(original)
    expected["match"] = {**(expected.get("match") or {}), key: float(written)}
    if yaml.safe_load(new_text) != expected:
        raise SiamfaceError(
            f"{path}: match.{key} could not be changed safely (unusual layout); set it to {written} by hand"
        )
    write_text_atomically(path, new_text)
