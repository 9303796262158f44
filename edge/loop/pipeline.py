"""One frame through the pipeline: detect -> preprocess -> embed -> match, with per-stage timing.

A face whose track is named and that stands still keeps its last embedding on most frames (settle.py).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from .detect import Detector
from .embed import Embedder
from .match import Match, Matcher
from .preprocess import Box, preprocess_faces
from .scan import Scanner
from .settle import Settled

STAGES = ("detect", "preprocess", "embed", "match")


@dataclass
class FrameResult:
    boxes: np.ndarray  # (N, 4) left, top, width, height
    embeddings: np.ndarray  # (N, D)
    matches: list[Match]
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    fresh: np.ndarray | None = None  # (N,) bool: embedded on this frame, not carried (None: all were)


class Pipeline:
    def __init__(self, detector: Detector | Scanner, embedder: Embedder, matcher: Matcher) -> None:
        self.detector = detector
        self.embedder = embedder
        self.matcher = matcher
        self.settled = Settled()

    def process(self, frame: np.ndarray, still: bool = False, named: Collection[Box] = ()) -> FrameResult:
        """``still``: a photo of its own, not the next frame of a video, so searched whole and every
        face embedded; ``named``: the last frame's boxes of tracks that carry a name."""
        t0 = time.perf_counter()
        boxes = (
            self.detector.detect(frame, still) if isinstance(self.detector, Scanner) else self.detector.detect(frame)
        )
        t1 = time.perf_counter()
        carried = [None] * len(boxes) if still else self.settled.carried(boxes, named)
        fresh = np.array([face is None for face in carried], bool)
        batch = preprocess_faces(frame, boxes[fresh], self.embedder.contract)
        t2 = time.perf_counter()
        embedded = self.embedder.embed_batch(batch)
        embeddings = np.zeros((len(boxes), self.embedder.contract.embedding_size), np.float32)
        embeddings[fresh] = embedded
        for i, face in enumerate(carried):
            if face is not None:
                embeddings[i] = face.embedding
        t3 = time.perf_counter()
        matches = self.matcher.match(embeddings)
        t4 = time.perf_counter()
        if still:
            self.settled.forget()
        else:
            self.settled.remember(boxes, embeddings, carried)
        seconds = dict(zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)))
        return FrameResult(boxes, embeddings, matches, seconds, fresh)
