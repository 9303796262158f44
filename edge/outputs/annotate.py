"""Annotated output for people to look at: boxes and names drawn on frames, as images or a video."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ..atomic import write_atomically
from ..errors import SiamfaceError
from ..loop.match import UNKNOWN, Match

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4": "mp4v", ".avi": "MJPG"}


def draw(frame: np.ndarray, boxes: np.ndarray, matches: list[Match]) -> np.ndarray:
    out = frame.copy()
    for (x, y, w, h), match in zip(boxes, matches):
        colour = (0, 0, 255) if match.name == UNKNOWN else (0, 200, 0)
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), colour, 2)
        label = f"{match.name} {match.score:.2f}"
        cv2.putText(out, label, (int(x), max(12, int(y) - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out


class AnnotatedOutput:
    """Writes to a folder of JPEGs, or to one video file when the path ends in .mp4 or .avi."""

    def __init__(self, path: Path, fps: float = 10.0, source: Path | None = None) -> None:
        """``source``: the file or folder being read, if any, which must never be written over."""
        self.path = path
        self._fps = fps
        self._video: cv2.VideoWriter | None = None
        self._failed = False
        video = path.suffix.lower() in VIDEO_SUFFIXES
        folder = path.parent if video else path
        if source is not None and path.exists() and source.exists() and path.samefile(source):
            raise SiamfaceError(f"--annotate {path}: is the source being read; name another file or folder")
        try:
            if path.exists() and path.is_dir() == video:
                raise SiamfaceError(
                    f"--annotate {path}: exists and is a {'folder' if video else 'file'} (expected a folder for "
                    f"images, or a {'/'.join(VIDEO_SUFFIXES)} file)"
                )
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            raise SiamfaceError(f"--annotate {path}: {folder} cannot be written ({exc.strerror})") from None

    def _fail(self, why: str) -> None:
        """Annotation is for people to look at: losing it is said once, and never stops the loop."""
        if not self._failed:
            log.error("--annotate %s: %s; no more annotated frames are written", self.path, why)
        self._failed = True

    def write(self, index: int, frame: np.ndarray) -> None:
        if self._failed:
            return
        suffix = self.path.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            if self._video is None:
                fourcc = cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[suffix])
                self._video = cv2.VideoWriter(str(self.path), fourcc, self._fps, (frame.shape[1], frame.shape[0]))
                if not self._video.isOpened():
                    self._fail("OpenCV cannot open it for writing")
                    return
            self._video.write(frame)
            return
        ok, data = cv2.imencode(".jpg", frame)
        try:
            if ok:
                write_atomically(self.path / f"frame_{index:06d}.jpg", lambda handle: handle.write(data.tobytes()))
        except OSError as exc:
            self._fail(exc.strerror or str(exc))

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
