"""Detection recall on the hand-drawn boxes of ../shared/data/scenes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from siamface.edge.images import read_image
from siamface.edge.loop.track import iou


def score_scenes(scenes: Path, detect: Callable[[np.ndarray], np.ndarray]) -> tuple[int, int, int]:
    """(hand-drawn boxes found at IoU >= 0.4, boxes in all, detections matching no box)."""
    truth = json.loads((scenes / "boxes.json").read_text())
    found = total = unmatched = 0
    for name, boxes in truth.items():
        if boxes is None:  # photo not annotated
            continue
        detections = [tuple(d) for d in detect(read_image(scenes / name))]
        used: set[int] = set()
        for box in boxes:
            total += 1
            candidates = [(iou(box, d), i) for i, d in enumerate(detections) if i not in used]
            best = max(candidates, default=(0.0, -1))
            if best[0] >= 0.4:
                found += 1
                used.add(best[1])
        unmatched += len(detections) - len(used)
    return found, total, unmatched
