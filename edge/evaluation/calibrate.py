"""Choosing the matching threshold for the user's own gallery and a target false-accept rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SiamfaceError
from ..gallery import Gallery
from ..loop.detect import Detector, photo_faces, portrait_face
from ..loop.embed import Embedder, l2_normalize
from ..loop.match import Matcher
from . import lfw_metrics as metrics
from .degrade import sequence_embeddings

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
    """Leave-one-out scores: each enrolled photo against the rest of its person and against everyone
    else, each a person-level best as the matcher computes it."""
    matcher = Matcher(gallery, 0.0, 0.0)
    sims = matcher.embeddings @ matcher.embeddings.T
    np.fill_diagonal(sims, -np.inf)  # a photo is not compared with itself
    best = matcher.best_per_person(sims)
    own = np.zeros(best.shape, bool)
    own[np.arange(len(matcher.owners)), matcher.owners] = True
    genuine = best[own]
    return genuine[np.isfinite(genuine)], best[~own]


def stranger_scores(gallery: Gallery, strangers: np.ndarray) -> np.ndarray:
    """Each stranger's best score against each enrolled person."""
    if len(strangers) == 0:
        return np.zeros(0)
    return Matcher(gallery, 0.0, 0.0).person_scores(strangers).ravel()


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
    matcher = Matcher(gallery, 0.0, 0.0)
    genuine, impostor = [], []

    def best(templates: np.ndarray, left_out: int | None) -> np.ndarray:
        sims = templates @ matcher.embeddings.T
        if left_out is not None:
            sims[:, left_out] = -np.inf
        return matcher.best_per_person(sims).max(axis=0, initial=-np.inf)

    for name, tracks in photo_tracks.items():
        own = matcher.names.index(name)
        rows = np.flatnonzero(matcher.owners == own)
        for i, track in enumerate(tracks):
            templates = running_templates(track, min_frames) if track is not None else ()
            if len(templates) == 0:
                continue
            scores = best(templates, rows[i])
            if np.isfinite(scores[own]):
                genuine.append(scores[own])
            impostor.extend(np.delete(scores, own))
    for track in strangers:
        templates = running_templates(track, min_frames)
        if len(templates):
            impostor.extend(best(templates, None))
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


TRACK_FRAMES = 6  # frames of one pose per calibration track: a person standing still, the hardest case


def photo_track(path: Path, detector: Detector, embedder: Embedder, rng: np.random.Generator) -> np.ndarray | None:
    """A video-like track made from one photo (degrade.py), or None when it is gone or has no clear face."""
    from ..images import read_image

    try:
        image = read_image(path)
    except SiamfaceError:
        return None
    box = portrait_face(photo_faces(detector, image))
    return None if box is None else sequence_embeddings([(image, box)], TRACK_FRAMES, embedder, rng)


def gallery_calibration_scores(
    gallery: Gallery,
    strangers: list[Path],
    detector: Detector,
    embedder: Embedder,
    min_frames: int,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """What `face-edge calibrate` chooses its thresholds from: (genuine, impostor) of the enrolled
    photos (and the strangers' photos against everyone), the same for video-like tracks made from
    them, the number of tracks, and of enrolled photos that gave none (gone, or no clear face)."""
    from tqdm import tqdm

    from .evaluate import embed_images

    genuine, impostor = gallery_scores(gallery)
    rng = np.random.default_rng(0)
    records = [(name, r) for name in gallery.names() for r in gallery.people[name]]
    photo_tracks: dict[str, list] = {name: [] for name in gallery.names()}
    for name, record in tqdm(records, desc="tracks from enrolled photos", unit="photo", disable=not progress):
        photo_tracks[name].append(photo_track(Path(record.path), detector, embedder, rng))
    stranger_tracks = []
    if strangers:
        embedded = embed_images(strangers, detector, embedder, progress)
        impostor = np.concatenate([impostor, stranger_scores(gallery, np.stack(list(embedded.vectors.values())))])
        for photo in tqdm(strangers, desc="tracks from strangers", unit="photo", disable=not progress):
            track = photo_track(photo, detector, embedder, rng)
            if track is not None:
                stranger_tracks.append(track)
    track_genuine, track_impostor = gallery_track_scores(gallery, photo_tracks, stranger_tracks, min_frames)
    missing = sum(t is None for tracks in photo_tracks.values() for t in tracks)
    tracks = len(records) - missing + len(stranger_tracks)
    return genuine, impostor, track_genuine, track_impostor, tracks, missing
