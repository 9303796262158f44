"""Decisions per person, not per frame: faces are tracked across frames and a track's identity is
voted on over its recent frames, so each person gives one ``enter`` and one ``leave`` event."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from .match import UNKNOWN, Match


@dataclass(frozen=True)
class TrackSettings:
    votes_needed: int = 3  # N of the last M usable frames must agree on a name (or on unknown)
    vote_window: int = 5  # M
    leave_after: float = 2.0  # seconds unseen before a track ends
    cooldown: float = 30.0  # seconds after a person's leave in which they get no new enter event
    # On the model's score scale (config.yaml): what a face needs to join a track at all...
    min_similarity: float = 0.93
    min_iou: float = 0.3  # ...with this box overlap,
    jump_similarity: float = 0.944  # ...or, for a face that moved far between frames, this (match.threshold)


@dataclass
class Track:
    id: int
    box: tuple[int, int, int, int]
    embedding: np.ndarray
    last_seen: float
    votes: deque = field(default_factory=deque)  # (name, score) of recent usable frames
    name: str | None = None  # decided identity, once decided
    score: float = 0.0
    announced: bool = False  # an enter event was emitted (not during a cool-down)


@dataclass(frozen=True)
class TrackEvent:
    kind: str  # "enter" or "leave"
    track: int
    name: str
    score: float
    box: tuple[int, int, int, int]


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


class Tracker:
    def __init__(self, settings: TrackSettings = TrackSettings()) -> None:
        self.settings = settings
        self.tracks: list[Track] = []
        self._next_id = 1
        self._left_at: dict[str, float] = {}  # person -> when their last announced track ended

    def update(
        self, now: float, boxes: np.ndarray, embeddings: np.ndarray, matches: list[Match], usable: list[bool]
    ) -> list[TrackEvent]:
        events: list[TrackEvent] = []
        for index, track in self._associate(boxes, embeddings):
            box = tuple(int(v) for v in boxes[index])
            if track is None:
                track = Track(self._next_id, box, embeddings[index], now, deque(maxlen=self.settings.vote_window))
                self._next_id += 1
                self.tracks.append(track)
            track.box, track.last_seen = box, now
            track.embedding = embeddings[index]
            if usable[index]:
                track.votes.append((matches[index].name, matches[index].score))
                if track.name is None:
                    events += self._decide(track, now, self.settings.votes_needed)
        for track in [t for t in self.tracks if now - t.last_seen > self.settings.leave_after]:
            events += self._end(track, now)
        return events

    def close(self, now: float) -> list[TrackEvent]:
        """The source ended: decide each open track on the votes it has, then end it."""
        events: list[TrackEvent] = []
        for track in list(self.tracks):
            if track.name is None and track.votes:
                events += self._decide(track, now, 1)
            events += self._end(track, now)
        return events

    def _associate(self, boxes: np.ndarray, embeddings: np.ndarray) -> list[tuple[int, Track | None]]:
        """Greedy: the strongest face-track links first; faces left over start new tracks."""
        candidates = []
        for i, box in enumerate(boxes):
            for track in self.tracks:
                overlap = iou(box, track.box)
                similar = float(embeddings[i] @ track.embedding)
                # Overlap alone would merge two people who stand on the same spot one after the other.
                if similar >= self.settings.min_similarity and (
                    overlap >= self.settings.min_iou or similar >= self.settings.jump_similarity
                ):
                    candidates.append((overlap + similar, i, track))
        linked: dict[int, Track] = {}
        taken: set[int] = set()
        for _, i, track in sorted(candidates, key=lambda c: -c[0]):
            if i not in linked and track.id not in taken:
                linked[i] = track
                taken.add(track.id)
        return [(i, linked.get(i)) for i in range(len(boxes))]

    def _decide(self, track: Track, now: float, needed: int) -> list[TrackEvent]:
        counts = Counter(name for name, _ in track.votes)
        name, count = counts.most_common(1)[0]
        if count < needed:
            return []
        track.name = name
        track.score = float(np.mean([score for n, score in track.votes if n == name]))
        if name != UNKNOWN:
            cooling = now - self._left_at.get(name, -np.inf) < self.settings.cooldown
            # A second track of someone already present is the tracker losing them, not a new arrival.
            present = any(t.announced and t.name == name for t in self.tracks if t is not track)
            if cooling or present:
                return []
        track.announced = True
        return [TrackEvent("enter", track.id, name, track.score, track.box)]

    def _end(self, track: Track, now: float) -> list[TrackEvent]:
        self.tracks.remove(track)
        if track.name is None:
            return []
        if track.name != UNKNOWN:
            self._left_at[track.name] = now  # a suppressed re-entry also extends the cool-down
        if not track.announced:
            return []
        return [TrackEvent("leave", track.id, track.name, track.score, track.box)]
