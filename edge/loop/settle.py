"""Faces whose track is named are not embedded on every frame.

Embedding is most of a frame's time when several people stand in view. A face whose track already
carries a name (decided on tracking.min_frames usable frames) and that has barely moved since the
last frame (its box overlaps the last one by STILL_IOU) keeps its last embedding for up to
EMBED_EVERY - 1 frames and is embedded again on the next. A new face, a stranger, a track not yet
named, a face that moved: embedded every frame, so no name comes later than it would. A carried
embedding is the same evidence again, so it does not vote (the runner gives it no weight in its
track) but still links the face to its track.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from .track import iou

EMBED_EVERY = 3
STILL_IOU = 0.8


@dataclass
class Face:
    box: tuple[int, int, int, int]
    embedding: np.ndarray
    age: int  # frames since the embedding was made


class Settled:
    """The last frame's faces, for one camera."""

    def __init__(self) -> None:
        self._last: list[Face] = []

    def carried(self, boxes: np.ndarray, named: Collection[tuple[int, int, int, int]]) -> list[Face | None]:
        """For each box, the last frame's face it continues if that face's track is named (``named``:
        the last frame's boxes of named tracks) and it may be carried; None: embed it."""
        found: list[Face | None] = []
        for box in boxes:
            best = max(self._last, key=lambda f: iou(box, f.box), default=None)
            settled = (
                best is not None
                and best.box in named
                and best.age < EMBED_EVERY - 1
                and iou(box, best.box) >= STILL_IOU
                and all(best is not other for other in found)
            )
            found.append(best if settled else None)
        return found

    def remember(self, boxes: np.ndarray, embeddings: np.ndarray, carried: list[Face | None]) -> None:
        self._last = [
            Face(tuple(int(v) for v in box), embedding, 0 if before is None else before.age + 1)
            for box, embedding, before in zip(boxes, embeddings, carried)
        ]

    def forget(self) -> None:
        self._last = []
