"""Choosing the matching threshold for the user's own gallery and a target false-accept rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import metrics
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
