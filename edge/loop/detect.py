"""Face detection, by detector.kind: BlazeFace (blazeface.py, the default), or an OpenCV Haar cascade."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import SiamfaceError
from ..settings import setting
from .preprocess import whole_image_box

KINDS = ("haar", "blazeface")


@dataclass(frozen=True)
class DetectorSettings:
    kind: str = setting("detector.kind", "blazeface", f"one of {', '.join(KINDS)}", lambda v: v in KINDS)
    cascade: str = setting(
        "detector.cascade",
        "haarcascade_frontalface_default.xml",
        "a Haar cascade file name in OpenCV's data, or a path",
    )
    scale_factor: float = setting("detector.scale_factor", 1.1, "a number above 1.0", lambda v: v > 1.0)
    min_neighbors: int = setting("detector.min_neighbors", 5, "a whole number of at least 0", lambda v: v >= 0)
    min_size: int = setting(
        "detector.min_size", 24, "the smallest face side in pixels, a whole number of at least 8", lambda v: v >= 8
    )
    # Detect on a copy this many times smaller: speed, paid for in recall.
    downscale: float = setting("detector.downscale", 1.0, "a number of at least 1.0", lambda v: v >= 1.0)
    # BlazeFace sees a frame at 128x128, where a face under an eighth of the frame is too small:
    # the frame is also searched as tiles x tiles overlapping squares (live: a few a frame, in turn).
    tiles: int = setting("detector.tiles", 3, "a whole number from 1 to 6", lambda v: 1 <= v <= 6)
    min_score: float = setting("detector.min_score", 0.7, "a number above 0 and below 1", lambda v: 0 < v < 1)


def cascade_path(name: str) -> Path:
    path = Path(name).expanduser()
    if path.is_file():
        return path
    bundled = Path(cv2.data.haarcascades) / name
    if bundled.is_file():
        return bundled
    raise SiamfaceError(
        f"detector.cascade={name!r}: no such file, nor a cascade in OpenCV's data ({cv2.data.haarcascades})"
    )


class HaarDetector:
    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        path = cascade_path(settings.cascade)
        try:
            self._cascade = cv2.CascadeClassifier(str(path))
            loaded = not self._cascade.empty()
        except (cv2.error, SystemError):  # OpenCV raises on a file that is not cascade XML at all
            loaded = False
        if not loaded:
            raise SiamfaceError(f"{path}: not a Haar cascade OpenCV can load (detector.cascade)")
        self.settings = settings

    def detect(
        self,
        frame: np.ndarray,
        min_neighbors: int | None = None,
        min_size: int | None = None,
        downscale: float | None = None,
    ) -> np.ndarray:
        """Face boxes (left, top, width, height) in frame pixels, as an (N, 4) int array; ``min_neighbors``,
        ``min_size`` and ``downscale`` override the settings' (see photo_faces)."""
        s = self.settings
        neighbors = s.min_neighbors if min_neighbors is None else min_neighbors
        downscale = s.downscale if downscale is None else downscale
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if downscale > 1.0:
            gray = cv2.resize(gray, None, fx=1 / downscale, fy=1 / downscale, interpolation=cv2.INTER_AREA)
        min_side = max(1, round((s.min_size if min_size is None else min_size) / downscale))
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=s.scale_factor, minNeighbors=neighbors, minSize=(min_side, min_side)
        )
        if len(found) == 0:
            return np.zeros((0, 4), dtype=np.int32)
        return np.round(np.asarray(found, dtype=np.float64) * downscale).astype(np.int32)

    def detect_near_size(self, image: np.ndarray, side: float) -> np.ndarray:
        """Faces of about ``side`` pixels (0.7x to 1.5x) in a region around a known face: the region
        is shrunk so such a face is about 40 pixels and only those scales are searched, a small
        fraction of a full scan."""
        s = self.settings
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = min(1.0, 40.0 / max(side, 1.0))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        smallest = max(24, round(0.7 * side * scale))
        largest = max(smallest + 1, round(1.5 * side * scale))
        found = self._cascade.detectMultiScale(
            gray,
            scaleFactor=s.scale_factor,
            minNeighbors=s.min_neighbors,
            minSize=(smallest, smallest),
            maxSize=(largest, largest),
        )
        if len(found) == 0:
            return np.zeros((0, 4), dtype=np.int32)
        return np.round(np.asarray(found, dtype=np.float64) / scale).astype(np.int32)


class Detector(Protocol):
    settings: DetectorSettings

    def detect(self, frame: np.ndarray) -> np.ndarray: ...


def make_detector(settings: DetectorSettings = DetectorSettings()) -> Detector:
    """The detector that ``detector.kind`` names."""
    if settings.kind == "blazeface":
        from .blazeface import BlazeFaceDetector

        return BlazeFaceDetector(settings)
    return HaarDetector(settings)


def largest_face(boxes: np.ndarray) -> np.ndarray | None:
    if len(boxes) == 0:
        return None
    return boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]


# A photo (enrolment, verification, evaluation) is known to hold a face, so when the live
# detector's strictness finds none it is searched again with fewer confirming hits, for a face that
# fills a good part of it: the faces missed at the live strictness are large ones, and the size
# floor keeps out small false hits such as a reflection on a helmet (figures: docs/accuracy.md).
PHOTO_MIN_NEIGHBORS = 3
PHOTO_MIN_SCORE = 0.3  # BlazeFace's second search
PHOTO_MIN_FACE = 0.2  # of the photo's shorter side, for the second search only
PHOTO_SEARCH_SIDE = 2048  # the longest side a photo is searched at, in pixels
# For cache keys: what a photo's boxes depend on.
PHOTO_SEARCH = (PHOTO_MIN_NEIGHBORS, PHOTO_MIN_SCORE, PHOTO_MIN_FACE, PHOTO_SEARCH_SIDE)


def photo_faces(detector: Detector, image: np.ndarray) -> np.ndarray:
    """Face boxes in a still photo: as in a live frame but at full resolution (``detector.downscale``
    buys a live loop speed; a photo is searched once), or if there are none, a face of at least a
    fifth of the photo searched for less strictly. BlazeFace searches the whole photo and all its tiles."""
    floor = round(PHOTO_MIN_FACE * min(image.shape[:2]))
    if not isinstance(detector, HaarDetector):
        boxes = detector.detect(image)
        if len(boxes) == 0 and detector.settings.min_score > PHOTO_MIN_SCORE:
            boxes = detector.detect(image, PHOTO_MIN_SCORE)
            boxes = boxes[np.minimum(boxes[:, 2], boxes[:, 3]) >= floor]
        return boxes
    # A large photo is searched on a smaller copy: Haar's memory grows with the pixels searched.
    downscale = max(1.0, max(image.shape[:2]) / PHOTO_SEARCH_SIDE)
    boxes = detector.detect(image, downscale=downscale)
    if len(boxes) == 0 and detector.settings.min_neighbors > PHOTO_MIN_NEIGHBORS:
        boxes = detector.detect(image, PHOTO_MIN_NEIGHBORS, max(detector.settings.min_size, floor), downscale=downscale)
    return boxes


def face_or_whole(detector: Detector, image: np.ndarray, margin: float) -> tuple[np.ndarray, bool]:
    """(box, fell_back): the photo's largest face, or when there is none the box whose margin-grown
    crop is the whole image, i.e. the image taken as an already-cropped face."""
    box = largest_face(photo_faces(detector, image))
    if box is None:
        return np.asarray(whole_image_box(image.shape, margin)), True
    return box, False


# A portrait often has a small face in the background, or a false hit on the clothes; its subject is
# then unmistakable. Faces of similar size are a group photo, where the person meant is not known.
DOMINANT_SIDE = 2.0


def portrait_face(boxes: np.ndarray) -> np.ndarray | None:
    """The one face a photo is of: the only face, or one at least DOMINANT_SIDE times the side of every other."""
    if len(boxes) == 0:
        return None
    sides = np.sort(boxes[:, 2])[::-1]
    if len(sides) > 1 and sides[0] < DOMINANT_SIDE * sides[1]:
        return None
    return boxes[int(np.argmax(boxes[:, 2]))]
