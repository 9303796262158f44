"""What the loop shows the page and what the page asks of the loop, behind one lock: the loop
posts and never waits on a browser; the page reads copies."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

RECENT_EVENTS = 200  # events the page lists; their crops are in the bounded crop store


@dataclass
class PageEvent:
    id: int
    time: str  # ISO 8601, UTC
    kind: str  # enter, identified or leave
    name: str
    score: float
    track: int
    visitor: str | None
    crop: str | None  # a crop store id
    template: np.ndarray | None = None  # the track's template when it was named: what Wrong corrects
    corrected: str | None = None  # what Wrong did


@dataclass(frozen=True)
class LiveTrack:
    track: int
    name: str  # "…" before the track is decided
    score: float
    box: tuple[int, int, int, int]


class Board:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jpeg: bytes | None = None
        self._jpeg_index = 0
        self._tracks: list[LiveTrack] = []
        self._events: deque[PageEvent] = deque(maxlen=RECENT_EVENTS)
        self._next_event = 1
        # Set by the page after it wrote the gallery; the loop takes the new gallery between frames.
        self.gallery_changed = threading.Event()

    def show(self, jpeg: bytes, tracks: list[LiveTrack]) -> None:
        with self._lock:
            self._jpeg, self._jpeg_index, self._tracks = jpeg, self._jpeg_index + 1, tracks

    def nobody(self) -> None:
        """The source ended: the last picture stays, nobody is in view."""
        with self._lock:
            self._tracks = []

    def live(self) -> tuple[bytes | None, int, list[LiveTrack]]:
        with self._lock:
            return self._jpeg, self._jpeg_index, list(self._tracks)

    def add(self, event: PageEvent) -> PageEvent:
        with self._lock:
            event.id, self._next_event = self._next_event, self._next_event + 1
            self._events.append(event)
        return event

    def events(self) -> list[PageEvent]:
        """The latest first."""
        with self._lock:
            return list(reversed(self._events))

    def event(self, event_id: int) -> PageEvent | None:
        with self._lock:
            return next((e for e in self._events if e.id == event_id), None)

    def named(self) -> list[tuple[str, np.ndarray]]:
        """(name, template) of the recent named events not corrected: who a new name must not take."""
        with self._lock:
            return [(e.name, e.template) for e in self._events if e.template is not None and not e.corrected]
