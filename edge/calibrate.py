"""Choosing the matching threshold for the user's own gallery and a target false-accept rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .embed import l2_normalize
from .gallery import Gallery

# Fewer expected false accepts than this in the impostor set makes the threshold a rough guess.
MIN_FALSE_ACCEPTS = 10


@dataclass
class Calibration:
    genuine: np.ndarray  # each enrolled photo against the rest of its person (best score)
    impostor: np.ndarray  # each photo or stranger against each other person (best score)
    far: float
    threshold: float
    tar: float  # share of genuine scores at or above the threshold
    warnings: list[str] = field(default_factory=list)


def gallery_scores(gallery: Gallery) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out scores, each a person-level best as the matcher computes it."""
    embeddings, owners, names = gallery.matrix()
    sims = embeddings @ embeddings.T
    genuine, impostor = [], []
    for i, owner in enumerate(owners):
        for person in range(len(names)):
            rows = np.flatnonzero(owners == person)
            if person == owner:
                rows = rows[rows != i]
                if len(rows):
                    genuine.append(sims[i, rows].max())
            else:
                impostor.append(sims[i, rows].max())
    return np.asarray(genuine), np.asarray(impostor)


def stranger_scores(gallery: Gallery, strangers: np.ndarray) -> np.ndarray:
    """Each stranger's best score against each enrolled person."""
    embeddings, owners, names = gallery.matrix()
    if len(strangers) == 0 or len(names) == 0:
        return np.zeros(0)
    sims = strangers @ embeddings.T
    return np.stack([sims[:, owners == p].max(axis=1) for p in range(len(names))], axis=1).ravel()


def calibrate(genuine: np.ndarray, impostor: np.ndarray, far: float) -> Calibration:
    warnings = []
    if len(impostor) == 0:
        raise ValueError("no impostor scores: enrol at least two people or give a folder of strangers")
    threshold = metrics.threshold_at_far(impostor, far)
    expected = len(impostor) * far
    if expected < MIN_FALSE_ACCEPTS:
        warnings.append(
            f"only {len(impostor)} impostor scores: at FAR {far:g} that is {expected:.1f} expected false accepts, "
            f"too few to pin the threshold down (want {int(np.ceil(MIN_FALSE_ACCEPTS / far))}); "
            "add faces of people who are not enrolled with --strangers DIR"
        )
    if len(genuine) == 0:
        warnings.append("no enrolled person has two photos: the true accept rate at this threshold is unknown")
        tar = float("nan")
    else:
        tar = float(np.mean(genuine >= threshold))
    return Calibration(genuine, impostor, far, threshold, tar, warnings)


def summary(scores: np.ndarray) -> str:
    if len(scores) == 0:
        return "none"
    q = np.quantile(scores, [0.01, 0.5, 0.99])
    return f"{len(scores)} scores, mean {scores.mean():.3f}, 1% {q[0]:.3f}, median {q[1]:.3f}, 99% {q[2]:.3f}"


def running_templates(sequence: np.ndarray, min_frames: int) -> np.ndarray:
    """The template a track holds after each of its usable frames from the ``min_frames``-th on:
    it is matched after every frame, so every one of them is a chance to be named. ``sequence``
    holds each frame's embedding times its weight; a frame of weight 0 is not usable."""
    sequence = sequence[np.abs(sequence).sum(axis=1) > 0]
    totals = np.cumsum(sequence, axis=0)[min_frames - 1 :]
    return l2_normalize(totals)


def track_scores(
    gallery: Gallery, sequences: list[tuple[str | None, np.ndarray]], min_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) for tracks: each sequence's highest running-template score against its own
    person, and against each other enrolled person (a stranger's sequence, owner None, against
    everyone). The highest, because a track is named the first time its template crosses."""
    from .match import Matcher

    matcher = Matcher(gallery, 0.0, 0.0)
    genuine, impostor = [], []
    for owner, sequence in sequences:
        templates = running_templates(sequence, min_frames)
        if len(templates) == 0:
            continue
        best = matcher.person_scores(templates).max(axis=0)
        own = matcher.names.index(owner) if owner in matcher.names else None
        if own is not None:
            genuine.append(best[own])
        impostor.extend(np.delete(best, own) if own is not None else best)
    return np.asarray(genuine, np.float32), np.asarray(impostor, np.float32)


def gallery_track_scores(
    gallery: Gallery, photo_tracks: dict[str, list[np.ndarray | None]], strangers: list[np.ndarray], min_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) for tracks made from the enrolled photos themselves (``photo_tracks[name][i]``
    from the person's i-th photo, None where the photo is gone): each against the same person's
    other photos (leave one out) and against every other person; each stranger's track against everyone."""
    names = gallery.names()
    own = {n: np.stack([r.embedding for r in gallery.people[n]]) for n in names}
    genuine, impostor = [], []

    def best(templates: np.ndarray, rows: np.ndarray) -> float:
        return float((templates @ rows.T).max()) if len(rows) else float("nan")

    for name, tracks in photo_tracks.items():
        for i, track in enumerate(tracks):
            templates = running_templates(track, min_frames) if track is not None else np.zeros((0, 1))
            if len(templates) == 0:
                continue
            if len(own[name]) > 1:
                genuine.append(best(templates, np.delete(own[name], i, axis=0)))
            impostor.extend(best(templates, own[other]) for other in names if other != name)
    for track in strangers:
        templates = running_templates(track, min_frames)
        if len(templates):
            impostor.extend(best(templates, own[other]) for other in names)
    return np.asarray(genuine, np.float32), np.asarray(impostor, np.float32)


def stranger_pair_scores(tracks: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(same, different): the cosine between the whole templates of two tracks of one person, and of
    two people. An unknown track this alike to another is taken for the same stranger."""
    templates, owners = [], []
    for owner, sequence in tracks:
        whole = running_templates(sequence, 1)
        if len(whole):
            templates.append(whole[-1])
            owners.append(owner)
    if len(templates) < 2:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    sims = np.stack(templates) @ np.stack(templates).T
    same = np.asarray(owners)[:, None] == np.asarray(owners)[None, :]
    upper = np.triu_indices(len(templates), 1)
    return sims[upper][same[upper]], sims[upper][~same[upper]]
