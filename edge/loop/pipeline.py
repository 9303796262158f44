"""One frame through the pipeline: detect -> preprocess -> embed -> match, with per-stage timing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .detect import Detector
from .embed import Embedder
from .match import Match, Matcher
from .preprocess import preprocess_faces
from .scan import Scanner

STAGES = ("detect", "preprocess", "embed", "match")


@dataclass
class FrameResult:
    boxes: np.ndarray  # (N, 4) left, top, width, height
    embeddings: np.ndarray  # (N, D)
    matches: list[Match]
    seconds: dict[str, float] = field(default_factory=dict)  # per stage


class Pipeline:
    def __init__(self, detector: Detector | Scanner, embedder: Embedder, matcher: Matcher) -> None:
        self.detector = detector
        self.embedder = embedder
        self.matcher = matcher

    def process(self, frame: np.ndarray, still: bool = False) -> FrameResult:
        """``still``: a photo of its own, not the next frame of a video, so searched whole."""
        t0 = time.perf_counter()
        boxes = (
            self.detector.detect(frame, still) if isinstance(self.detector, Scanner) else self.detector.detect(frame)
        )
        t1 = time.perf_counter()
        batch = preprocess_faces(frame, boxes, self.embedder.contract)
        t2 = time.perf_counter()
        embeddings = self.embedder.embed_batch(batch)
        t3 = time.perf_counter()
        matches = self.matcher.match(embeddings)
        t4 = time.perf_counter()
        seconds = dict(zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)))
        return FrameResult(boxes, embeddings, matches, seconds)
