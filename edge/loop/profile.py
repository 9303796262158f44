"""Turned heads: a track whose face the detector lost this frame is searched for a profile near it.

BlazeFace and Haar's frontal cascade find no face in a head turned to the side, so a person who
looks away for longer than ``tracking.leave_after`` would leave and come back. OpenCV's profile
cascade (made for faces looking one way; the region is also searched mirrored) is run only in a
region around such a track, at about its size: a small fraction of a frame's work, and only on
frames that lost a face. A profile keeps the track alive and follows it; it is not embedded, so
frames without a frontal face do not vote on who the track is.
"""

from __future__ import annotations

import cv2
import numpy as np

from .detect import DetectorSettings, HaarDetector
from .scan import regions

CASCADE = "haarcascade_profileface.xml"
GROW = 0.5  # the region is the track's box grown by this fraction of its side on each side


class ProfileFinder:
    def __init__(self) -> None:
        self._haar = HaarDetector(DetectorSettings(kind="haar", cascade=CASCADE))

    def find(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
        """A profile of about the size of ``box`` (left, top, width, height) in the region around
        it, the one nearest the box's centre, or None."""
        ((left, top, right, bottom, side),) = regions(np.asarray([box]), frame.shape, GROW)
        region = np.ascontiguousarray(frame[top:bottom, left:right])
        width = right - left
        found = list(self._haar.detect_near_size(region, side))
        found += [(width - x - w, y, w, h) for x, y, w, h in self._haar.detect_near_size(cv2.flip(region, 1), side)]
        if not found:
            return None
        centre = np.array([box[0] + box[2] / 2 - left, box[1] + box[3] / 2 - top])
        x, y, w, h = min(found, key=lambda b: float(np.hypot(*(np.array([b[0] + b[2] / 2, b[1] + b[3] / 2]) - centre))))
        return (int(left + x), int(top + y), int(w), int(h))
