"""Decisions per person, not per frame: faces are tracked across frames and each track is named on
the evidence of all its usable frames, so each person gives one ``enter`` and one ``leave`` event.

A track keeps a template, the quality-weighted mean of the embeddings of its usable frames, which
is steadier than any one frame: blur, pose and compression average out. The template is matched
after every usable frame, at the track threshold (calibrated on templates, not single photos), so a
person first seen small and blurred is named as soon as the evidence suffices. A track is announced
``unknown`` only after ``unknown_after`` seconds of usable frames without a name, or when it ends;
one announced unknown and named later gives an ``identified`` event. Times are the frames' own
(media time for files), so a clip gives the same events however fast it is processed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..settings import is_cosine, setting
from .embed import l2_normalize
from .match import UNKNOWN, Match, Matcher

NULL_MEANS_MODEL = "or null for the model's"
BEST = 5  # a track's heaviest frames kept, which the gallery may learn from


@dataclass(frozen=True)
class TrackSettings:
    # On the model's score scale: None means the model's own value (contract.py), filled in by
    # config.with_model_scores before a tracker is made.
    threshold: float | None = setting(  # a template's score needed to name its track
        "match.track_threshold", None, f"a cosine similarity between -1 and 1, {NULL_MEANS_MODEL}", is_cosine
    )
    margin: float | None = setting(  # ...and its lead over the next person (frames are named by it too)
        "match.margin", None, f"a score difference between 0 and 2, {NULL_MEANS_MODEL}", lambda v: 0.0 <= v <= 2.0
    )
    # Two unknown tracks this alike are one stranger, who is not announced twice.
    stranger_threshold: float | None = setting(
        "match.stranger_threshold", None, f"a cosine similarity between -1 and 1, {NULL_MEANS_MODEL}", is_cosine
    )
    min_frames: int = setting(
        "tracking.min_frames", 3, "usable frames before a track is named, at least 1", lambda v: v >= 1
    )
    unknown_after: float = setting(
        "tracking.unknown_after",
        1.0,
        "seconds of usable frames without a name before unknown is announced, at least 0",
        lambda v: v >= 0,
    )
    leave_after: float = setting(
        "tracking.leave_after", 2.0, "seconds unseen before a person's leave event, above 0", lambda v: v > 0
    )
    cooldown: float = setting(
        "tracking.cooldown",
        30.0,
        "seconds after a leave without a new enter for that person, at least 0",
        lambda v: v >= 0,
    )
    # On the model's score scale (config.yaml): what a face needs to join a track at all, with a box
    # overlap of min_iou; a face that moved far needs jump_similarity, the naming threshold.
    min_similarity: float = setting("tracking.min_similarity", 0.93, "a cosine similarity between -1 and 1", is_cosine)
    min_iou: float = 0.3
    # Look for a turned head (a profile) near a track whose face was lost, for at most turned_for
    # seconds after its last face: a profile found on a poster would otherwise hold a track forever.
    # Off by default: no shared clip gains from it, and it costs time (docs/detection.md).
    turned_heads: bool = setting("tracking.turned_heads", False, "true or false")
    turned_for: float = 10.0
    jump_similarity: float | None = None
    recent: int = 5  # the latest usable frames, whose own template can say the track became someone else


@dataclass
class Track:
    id: int
    box: tuple[int, int, int, int]
    embedding: np.ndarray  # the latest face, for association
    last_seen: float  # a face or a profile
    last_face: float = -np.inf  # a face the detector found
    total: np.ndarray | None = None  # weighted sum of the usable frames' embeddings
    usable: int = 0  # how many usable frames the template holds
    first_usable: float | None = None  # when the first of them was seen
    recent: deque = field(default_factory=deque)  # the latest usable embeddings
    best: list = field(default_factory=list)  # (weight, embedding) of its BEST heaviest usable frames
    name: str | None = None  # what was decided: None before any decision, then a person or "unknown"
    score: float = 0.0  # the template's score for that name
    announced: bool = False  # an enter event was emitted (not during a cool-down)

    @property
    def template(self) -> np.ndarray:
        return l2_normalize(self.total[None])[0]


@dataclass(frozen=True)
class TrackEvent:
    kind: str  # "enter", "identified" (an announced unknown named later) or "leave"
    track: int
    name: str
    score: float
    box: tuple[int, int, int, int]
    previous: str | None = None  # for "identified": the name announced before
    # The track's template then (the page groups strangers and corrects names by it); not compared.
    template: np.ndarray | None = field(default=None, compare=False, repr=False)


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def template_of(embeddings: np.ndarray) -> np.ndarray:
    """The normalised mean of unit embeddings: what a track is matched on."""
    return l2_normalize(embeddings.sum(axis=0, keepdims=True))[0]


class Tracker:
    def __init__(self, matcher: Matcher, settings: TrackSettings) -> None:
        self.matcher = matcher
        self.settings = settings
        self.tracks: list[Track] = []
        self._next_id = 1
        self._left_at: dict[str, float] = {}  # person -> when their last announced track ended
        self._strangers_left: list[tuple[float, np.ndarray]] = []  # (when, template) of ended unknown tracks
        self.frames = 0  # frames seen, to tell a photo or two from a video when the source ends
        self.now = -np.inf  # the last frame's time
        self.ended: list[Track] = []  # named tracks that ended, for the gallery to learn from (learn.py)

    def update(
        self,
        now: float,
        boxes: np.ndarray,
        embeddings: np.ndarray,
        weights: list[float],
        turned: Callable[[tuple[int, int, int, int]], tuple[tuple[int, int, int, int], np.ndarray] | None]
        | None = None,
    ) -> list[TrackEvent]:
        """One frame's faces at time ``now`` (seconds on the source's clock); a weight of 0 marks a
        face too small or blurred to say who it is: it is tracked but adds nothing to the template.
        ``turned``: a profile near a box in this frame and its embedding (profile.py), or None; asked
        for tracks that lost their face, it keeps them alive without a vote."""
        events: list[TrackEvent] = []
        self.frames += 1
        self.now = now
        for index, track in self._associate(boxes, embeddings):
            box = tuple(int(v) for v in boxes[index])
            if track is None:
                track = self._new_track(box, embeddings[index], now)
            track.box, track.last_seen, track.last_face = box, now, now
            track.embedding = embeddings[index]
            if weights[index] > 0:
                self._add(track, embeddings[index], weights[index], now)
                events += self._revisit(track, now)
        if turned is not None:
            self._follow_turned(now, turned)
        for track in [t for t in self.tracks if now - t.last_seen > self.settings.leave_after]:
            events += self._end(track, now, self.settings.min_frames)
        return events

    def _follow_turned(self, now: float, turned: Callable) -> None:
        s = self.settings
        # Only announced tracks: their leave event is what a lost face would give too early; a
        # search for every lost glimpse costs more than it saves (docs/detection.md).
        for track in self.tracks:
            if track.last_seen == now or not track.announced or now - track.last_face > s.turned_for:
                continue
            found = turned(track.box)
            if found is None:
                continue
            box, embedding = found
            # The rule for any face joining a track: a profile in the same place after a cut, or of
            # someone who stepped in, is another person.
            if max(float(embedding @ track.embedding), float(embedding @ track.template)) >= s.min_similarity:
                track.box, track.last_seen = box, now

    def named_boxes(self) -> set[tuple[int, int, int, int]]:
        """The last frame's face boxes of tracks that carry a name (settle.py)."""
        return {t.box for t in self.tracks if t.last_face == self.now and t.name not in (None, UNKNOWN)}

    def close(self, now: float, stills: bool = False) -> list[TrackEvent]:
        """The source ended: every open track is decided on what it has, then ended. Photos
        (``stills``, or a source of fewer frames than ``min_frames``) need one frame each; a video's
        last glimpses stay glimpses."""
        events: list[TrackEvent] = []
        needed = 1 if stills else max(1, min(self.settings.min_frames, self.frames))
        for track in list(self.tracks):
            events += self._end(track, now, needed)
        return events

    def _new_track(self, box: tuple[int, int, int, int], embedding: np.ndarray, now: float) -> Track:
        track = Track(self._next_id, box, embedding, now, recent=deque(maxlen=self.settings.recent))
        self._next_id += 1
        self.tracks.append(track)
        return track

    @staticmethod
    def _add(track: Track, embedding: np.ndarray, weight: float, now: float) -> None:
        track.total = weight * embedding if track.total is None else track.total + weight * embedding
        track.usable += 1
        if track.first_usable is None:
            track.first_usable = now
        track.recent.append(embedding)
        track.best = sorted([*track.best, (weight, embedding)], key=lambda b: -b[0])[:BEST]

    def _associate(self, boxes: np.ndarray, embeddings: np.ndarray) -> list[tuple[int, Track | None]]:
        """Greedy: the strongest face-track links first; faces left over start new tracks."""
        candidates = []
        # The template is steadier than any one blurred frame; worked out once a frame, not per face.
        templates = {t.id: t.template for t in self.tracks if t.total is not None}
        for i, box in enumerate(boxes):
            for track in self.tracks:
                overlap = iou(box, track.box)
                similar = float(embeddings[i] @ track.embedding)
                if track.id in templates:
                    similar = max(similar, float(embeddings[i] @ templates[track.id]))
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

    def _name(self, template: np.ndarray, frames: int) -> Match:
        """A template of enough frames is named at the track threshold; fewer frames are one photo's
        evidence and need the frame threshold."""
        s = self.settings
        threshold = s.threshold if frames >= s.min_frames else self.matcher.threshold
        return self.matcher.match(template[None], threshold, s.margin)[0]

    def _revisit(self, track: Track, now: float) -> list[TrackEvent]:
        s = self.settings
        if track.usable < s.min_frames:
            return []
        match = self._name(track.template, track.usable)
        if track.name is None:
            if match.name != UNKNOWN:
                return self._decide(track, match.name, match.score, now)
            if now - track.first_usable >= s.unknown_after:
                return self._decide(track, UNKNOWN, match.score, now)
            return []
        if track.name == UNKNOWN:
            track.score = match.score
            if match.name == UNKNOWN:
                return []
            # Named after all: the person was small, far or blurred when first seen.
            track.name, track.score = match.name, match.score
            if not track.announced:
                return self._decide(track, match.name, match.score, now)
            return [TrackEvent("identified", track.id, track.name, track.score, track.box, UNKNOWN, track.template)]
        if len(track.recent) == track.recent.maxlen:
            lately = self._name(template_of(np.stack(track.recent)), len(track.recent))
            if lately.name not in (UNKNOWN, track.name):
                return self._split(track, now)
        if track.name in self.matcher.names:  # a reload may have removed them from the gallery
            scores = self.matcher.person_scores(track.template[None])[0]
            track.score = float(scores[self.matcher.names.index(track.name)])
        return []

    def _split(self, track: Track, now: float) -> list[TrackEvent]:
        """The latest frames of a named track are confidently someone else: the tracker followed
        one person onto another. The track ends and the latest frames start a new one."""
        recent = list(track.recent)
        events = self._end(track, now, self.settings.min_frames)
        fresh = self._new_track(track.box, recent[-1], now)
        for embedding in recent:
            self._add(fresh, embedding, 1.0, now)
        return events + self._revisit(fresh, now)

    def _decide(self, track: Track, name: str, score: float, now: float) -> list[TrackEvent]:
        track.name, track.score = name, score
        if name != UNKNOWN:
            cooling = now - self._left_at.get(name, -np.inf) < self.settings.cooldown
            # A second track of someone already present is the tracker losing them, not a new arrival.
            present = any(t.announced and t.name == name for t in self.tracks if t is not track)
            if cooling or present:
                return []
        elif self._seen_stranger(track, now):
            return []
        track.announced = True
        return [TrackEvent("enter", track.id, name, score, track.box, template=track.template)]

    def _seen_stranger(self, track: Track, now: float) -> bool:
        """The same rules for a stranger, known by the template alone: one who is still here, or who
        left less than a cool-down ago, is not announced again."""
        recent = [t for when, t in self._strangers_left if now - when < self.settings.cooldown]
        recent += [t.template for t in self.tracks if t is not track and t.announced and t.name == UNKNOWN]
        return any(float(track.template @ other) >= self.settings.stranger_threshold for other in recent)

    def _end(self, track: Track, now: float, frames_needed: int) -> list[TrackEvent]:
        """End a track; one never decided is decided now if it has ``frames_needed`` usable frames
        (fewer is a glimpse, or a false face, and ends unannounced)."""
        self.tracks.remove(track)
        events: list[TrackEvent] = []
        if track.name is None and track.usable >= frames_needed:
            match = self._name(track.template, track.usable)
            events += self._decide(track, match.name, match.score, now)
        if track.name is None:
            return events
        if track.name != UNKNOWN:
            self._left_at[track.name] = now  # a suppressed re-entry also extends the cool-down
            self.ended.append(track)
        elif track.total is not None:
            self._strangers_left = [(w, t) for w, t in self._strangers_left if now - w < self.settings.cooldown]
            self._strangers_left.append((now, track.template))
        if not track.announced:
            return events
        return [*events, TrackEvent("leave", track.id, track.name, track.score, track.box, template=track.template)]
