"""The gallery learns from the camera (``learning:`` in config.yaml, off by default).

When a named track ends on strong evidence (its template scores at least ``learning.min_score``
for the person and leads the next person by ``learning.min_margin``, over at least
``learning.min_frames`` usable frames), its best frames' embeddings may join that person's gallery
as learned templates. Each is admitted only if it matches the person's *enrolled* (photo)
templates at the naming threshold, and no other person's by as much: learned templates never
vouch for each other, so one mistake cannot seed the next. A person keeps at most
``learning.per_person`` of them; past that a new one replaces the most redundant one (the one most
like another of the person's templates) if it is itself less redundant. Only embeddings and where
and when they were learned are kept; ``face-edge gallery forget NAME --learned`` removes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from . import gallery as gallery_io
from .gallery import Gallery, LearnedRecord
from .loop.match import Matcher
from .loop.track import NULL_MEANS_MODEL, Track
from .settings import is_cosine, setting


@dataclass(frozen=True)
class LearningSettings:
    enabled: bool = setting("learning.enabled", False, "true or false")
    per_person: int = setting(
        "learning.per_person",
        20,
        "learned templates kept per person, a whole number from 1 to 500",
        lambda v: 1 <= v <= 500,
    )
    min_frames: int = setting(
        "learning.min_frames", 10, "usable frames a track needs before it teaches, at least 3", lambda v: v >= 3
    )
    # None: the model's match.stranger_threshold, the strictest score it carries (config.with_model_scores).
    min_score: float | None = setting(
        "learning.min_score",
        None,
        f"a cosine similarity between -1 and 1, {NULL_MEANS_MODEL} stranger_threshold",
        is_cosine,
    )
    # None: twice match.margin.
    min_margin: float | None = setting(
        "learning.min_margin",
        None,
        "a score difference between 0 and 2, or null for twice match.margin",
        lambda v: 0.0 <= v <= 2.0,
    )
    per_track: int = 3  # the best frames of one track that may join
    duplicate: float = 0.99  # a frame this like one of the person's templates adds nothing


@dataclass(frozen=True)
class Lesson:
    """What one ended track offers: the person, its evidence and its best frames' embeddings."""

    name: str
    score: float  # the track's template score for the person
    margin: float  # ...and its lead over the next person
    frames: int  # usable frames
    embeddings: np.ndarray  # (K, D), best first
    camera: str
    track: int


def lesson_of(track: Track, matcher: Matcher, camera: str) -> Lesson | None:
    """What an ended named track offers, scored against the gallery the loop matches with."""
    if track.name not in matcher.names or track.total is None:
        return None
    scores = matcher.person_scores(track.template[None])[0]
    mine, lead = _lead(scores, np.arange(len(scores)) == matcher.names.index(track.name))
    embeddings = np.stack([embedding for _, embedding in track.best])
    return Lesson(track.name, mine, lead, track.usable, embeddings, camera, track.id)


def _lead(scores: np.ndarray, mine: np.ndarray) -> tuple[float, float]:
    """(the best score among ``mine``, its lead over the best of the rest; -1 when there is none)."""
    others = scores[~mine]
    best = float(scores[mine].max())
    return best, best - (float(others.max()) if len(others) else -1.0)


def teach(
    path, lessons: list[Lesson], settings: LearningSettings, threshold: float, margin: float, model: tuple[str, int]
) -> tuple[Gallery | None, int]:
    """The lessons into the gallery file at ``path``, under its lock and re-read first (an enrolment
    may have written it since the loop loaded it): (the gallery written, or None; templates added).
    A gallery made with another model in the meantime is left alone."""
    lessons = [lesson for lesson in lessons if strong(lesson, settings)]
    if not lessons:
        return None, 0
    with gallery_io.locked(path):
        gallery = gallery_io.load(path)
        if (gallery.model_sha256, gallery.preprocess_version) != model:
            return None, 0
        joined = sum(admit(gallery, lesson, settings, threshold, margin) for lesson in lessons)
        if joined:
            gallery_io.save(gallery, path)
    return (gallery if joined else None), joined


def strong(lesson: Lesson, settings: LearningSettings) -> bool:
    """Evidence strict enough to learn from: stricter than naming on every count."""
    return (
        lesson.frames >= settings.min_frames
        and lesson.score >= settings.min_score
        and lesson.margin >= settings.min_margin
    )


def admit(gallery: Gallery, lesson: Lesson, settings: LearningSettings, threshold: float, margin: float) -> int:
    """Add the lesson's embeddings that pass to ``gallery`` (in place); how many joined.
    ``threshold`` and ``margin``: naming's (match.threshold, match.margin)."""
    if lesson.name not in gallery.people or not strong(lesson, settings):
        return 0
    enrolled, owners, names = gallery.matrix(learned=False)
    me = names.index(lesson.name)
    joined = 0
    for embedding in lesson.embeddings[: settings.per_track]:
        mine, lead = _lead(enrolled @ embedding, owners == me)
        # The photos must vouch for it: a learned template is never admitted through learned ones.
        if mine < threshold or lead < margin:
            continue
        if _place(gallery, lesson, embedding, settings):
            joined += 1
    return joined


def _place(gallery: Gallery, lesson: Lesson, embedding: np.ndarray, settings: LearningSettings) -> bool:
    photos = [r.embedding for r in gallery.people[lesson.name]]
    learned = gallery.learned.setdefault(lesson.name, [])
    templates = np.stack(photos + [r.embedding for r in learned])
    if float((templates @ embedding).max()) >= settings.duplicate:
        return False
    record = LearnedRecord(
        datetime.now(timezone.utc).isoformat(timespec="seconds"), lesson.camera, lesson.track, lesson.score, embedding
    )
    if len(learned) < settings.per_person:
        learned.append(record)
        return True
    # Full: the most redundant learned template (most like another template of the person) makes
    # room, if the newcomer is less redundant than it.
    similar = templates @ templates.T
    np.fill_diagonal(similar, -np.inf)
    redundancy = similar.max(axis=1)[len(photos) :]
    worst = int(np.argmax(redundancy))
    mine = float(np.max(np.delete(templates, len(photos) + worst, axis=0) @ embedding))
    if mine >= redundancy[worst]:
        return False
    learned[worst] = record
    return True


def forget(gallery: Gallery, name: str, learned_only: bool, since: str | None = None) -> int:
    """Remove a person (or only their learned templates, those learned at ``since`` or later); how
    many templates went."""
    if name not in gallery.people:
        return 0
    learned = gallery.learned.get(name, [])
    if learned_only or since is not None:
        kept = [r for r in learned if since is not None and r.learned_at < since]
        gallery.learned[name] = kept
        return len(learned) - len(kept)
    gone = len(gallery.people.pop(name)) + len(gallery.learned.pop(name, []))
    return gone
