"""Where each frame is searched for faces.

Haar over a whole 640x480 frame is most of the loop's time. People in front of a door move little
between frames, so the whole frame is searched only every ``full_every`` frames; in between only
the regions around the faces found last are ("roi"), or their boxes are reused unsearched ("hold").
A face that walks in is therefore found at most ``full_every - 1`` frames late. BlazeFace is cheap
enough to see the whole frame every other frame, and the tiles that hold far faces in turn on the
others; faces found are followed in squares around them (BlazeFaceDetector.detect_live), and these
settings do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..settings import setting
from .detect import Detector, DetectorSettings

BETWEEN = ("roi", "hold")


@dataclass(frozen=True)
class ScanSettings:
    # Search the whole frame every this many frames; in between "roi" searches around the last
    # faces, "hold" reuses their boxes.
    full_every: int = setting("detector.full_every", 1, "a whole number of at least 1", lambda v: v >= 1)
    between: str = setting("detector.between", "roi", f"one of {', '.join(BETWEEN)}", lambda v: v in BETWEEN)
    roi_grow: float = 0.5  # a region is the last box grown by this fraction of its side on each side


def describe(detector: DetectorSettings, scan: ScanSettings) -> str:
    """What is searched in each frame, for `face-edge check` and the log."""
    if detector.kind == "blazeface":
        from .blazeface import TILES_A_FRAME, frames_per_turn

        if detector.tiles <= 1:
            return "BlazeFace: the whole frame every frame, a square around each small face found"
        return (
            f"BlazeFace: the whole frame and {TILES_A_FRAME} of {detector.tiles**2} tiles in turn on alternate "
            f"frames (every tile within {frames_per_turn(detector.tiles)} frames), a square around each face found"
        )
    size = "full size" if detector.downscale == 1 else f"1/{detector.downscale:g} size"
    if scan.full_every == 1:
        return f"Haar ({detector.cascade}): the whole frame every frame at {size}"
    between = "regions around the last faces" if scan.between == "roi" else "the last boxes kept"
    return f"Haar ({detector.cascade}): the whole frame every {scan.full_every} frames at {size}, {between} between"


def regions(boxes: np.ndarray, shape: tuple[int, ...], grow: float) -> list[tuple[int, int, int, int, float]]:
    """(left, top, right, bottom, face side) of the region around each box, clipped to the frame."""
    height, width = shape[:2]
    found = []
    for x, y, w, h in boxes:
        pad_x, pad_y = int(w * grow), int(h * grow)
        left, top = max(0, x - pad_x), max(0, y - pad_y)
        right, bottom = min(width, x + w + pad_x), min(height, y + h + pad_y)
        found.append((left, top, max(right, left + 1), max(bottom, top + 1), float(np.sqrt(w * h))))
    return found


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box: a face found from two overlapping regions is one face."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    return inter / max(1, min(a[2] * a[3], b[2] * b[3]))


class Scanner:
    """A detector with a memory of where the faces were; one per camera."""

    def __init__(self, detector: Detector, settings: ScanSettings = ScanSettings()) -> None:
        self.detector = detector
        self.settings = settings
        self._frame = 0
        # Where to search between full scans. A face the region search misses once (a blink, a
        # turned head) stays here until the next full scan, so it is searched for again.
        self._around = np.zeros((0, 4), np.int32)

    def detect(self, frame: np.ndarray, still: bool = False) -> np.ndarray:
        """Face boxes (left, top, width, height) in frame pixels, as an (N, 4) int array; ``still``:
        the frame is a photo of its own (a folder of images), so it is searched whole."""
        s = self.settings
        if still:
            boxes = self._around = self.detector.detect(frame)
        elif hasattr(self.detector, "detect_live"):
            boxes = self._around = self.detector.detect_live(frame, self._frame, self._around)
        elif s.full_every <= 1 or self._frame % s.full_every == 0:
            boxes = self._around = self.detector.detect(frame)
        elif s.between == "hold":
            boxes = self._around
        else:
            boxes = self._search_regions(frame)
        self._frame += 1
        return boxes

    def _search_regions(self, frame: np.ndarray) -> np.ndarray:
        found: list[np.ndarray] = []
        around = self._around.copy()
        for i, (left, top, right, bottom, side) in enumerate(
            regions(self._around, frame.shape, self.settings.roi_grow)
        ):
            for box in self.detector.detect_near_size(frame[top:bottom, left:right], side):
                box = box + np.array([left, top, 0, 0], np.int32)
                if all(_overlap(box, other) < 0.5 for other in found):
                    found.append(box)
                    around[i] = box
        self._around = around
        return np.asarray(found, np.int32).reshape(-1, 4)
