"""Recognition events as JSON lines on stdout."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TextIO


@dataclass(frozen=True)
class Event:
    time: str  # ISO 8601, UTC
    camera: str
    # "enter" when a track is first named (or announced unknown), "identified" when a track announced
    # unknown is named after all, "leave" when it ends (with the final name)
    event: str
    track: int
    name: str
    score: float
    box: tuple[int, int, int, int]
    frame: int
    previous: str | None = None  # for "identified": the name announced before ("unknown")
    visitor: str | None = None  # for an unknown face, with the page on: the recurring stranger it is

    def to_json(self) -> str:
        fields = asdict(self)
        for optional in ("previous", "visitor"):
            if fields[optional] is None:
                del fields[optional]
        return json.dumps(fields, separators=(",", ":"))


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def emit_line(line: str, stream: TextIO | None = None) -> None:
    """One event line on stdout (journald keeps it), flushed at once."""
    stream = stream or sys.stdout  # looked up per call: stdout may be replaced after import
    stream.write(line + "\n")
    stream.flush()
