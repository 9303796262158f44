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
    event: str  # "enter" when a track is first confidently named (or confidently unknown), "leave" when it ends
    track: int
    name: str
    score: float
    box: tuple[int, int, int, int]
    frame: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def emit_line(line: str, stream: TextIO | None = None) -> None:
    """One event line on stdout (journald keeps it), flushed at once."""
    stream = stream or sys.stdout  # looked up per call: stdout may be replaced after import
    stream.write(line + "\n")
    stream.flush()
