"""Naming faces: cosine similarity against every enrolled embedding in one matrix product."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..gallery import Gallery

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Match:
    name: str  # an enrolled name, or "unknown"
    score: float  # best cosine similarity over all enrolled people
    candidate: str | None  # the closest enrolled person, even when the answer is unknown
    runner_up: float  # best score of any other person (-1 when there is none)


class Matcher:
    """Built once per gallery; a person's score is the best of their embeddings."""

    def __init__(self, gallery: Gallery, threshold: float, margin: float) -> None:
        self.embeddings, self.owners, self.names = gallery.matrix()
        owners = self.owners
        # Rows are grouped by person, so reduceat over each group's first row gives per-person maxima.
        self._starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners) else owners
        self.threshold = threshold
        self.margin = margin

    def person_scores(self, faces: np.ndarray) -> np.ndarray:
        """(F, P) best cosine similarity of each face to each enrolled person."""
        return self.best_per_person(faces @ self.embeddings.T)

    def best_per_person(self, similarities: np.ndarray) -> np.ndarray:
        """(F, R) similarities to the gallery's rows to (F, P): each person's best, the one rule by
        which a person is scored (a row set to -inf is left out, as in leave-one-out checks)."""
        if len(self.names) == 0:
            return np.zeros((len(similarities), 0), np.float32)
        return np.maximum.reduceat(similarities, self._starts, axis=1)

    def match(self, faces: np.ndarray, threshold: float | None = None, margin: float | None = None) -> list[Match]:
        """Each face named, or unknown, at this matcher's threshold and margin unless others are given
        (a track's template is named at the track threshold)."""
        threshold = self.threshold if threshold is None else threshold
        margin = self.margin if margin is None else margin
        scores = self.person_scores(faces)
        results = []
        for row in scores:
            if len(row) == 0:
                results.append(Match(UNKNOWN, -1.0, None, -1.0))
                continue
            order = np.argsort(-row)
            best = float(row[order[0]])
            second = float(row[order[1]]) if len(row) > 1 else -1.0
            confident = best >= threshold and best - second >= margin
            candidate = self.names[order[0]]
            results.append(Match(candidate if confident else UNKNOWN, best, candidate, second))
        return results
