"""Frame sources chosen by one string: picamera2, a camera, a stream URL, a video, a folder or an image.

Every source returns BGR uint8 frames (H, W, 3) from ``read()``, and None once a finite source ends;
``time`` is then the frame's time in seconds on the source's own clock: media time for files and
folders (so a clip gives the same events however fast it is processed), capture time for cameras
and streams. The tracker's time rules (leave_after, cooldown, unknown_after) read it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .errors import SiamfaceError
from .images import IMAGE_SUFFIXES, is_image_path, read_image

log = logging.getLogger(__name__)


# A folder of images has no frame rate of its own: it is played as a camera of this rate would be.
FOLDER_FPS = 10.0
VIDEO_FPS_UNKNOWN = 25.0  # for a video file whose frame rate OpenCV cannot read


class FrameSource(Protocol):
    name: str
    time: float  # of the frame read last, in seconds
    stills: bool  # each frame is a photo in its own right (a folder of images, one image), not video

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def as_bgr(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


class ImageFilesSource:
    """A folder of images or one image; an unreadable file is logged and skipped, not fatal."""

    def __init__(self, paths: list[Path], name: str) -> None:
        self.name = name
        self._paths = iter(paths)
        self.current: Path | None = None
        self.time = 0.0
        self.stills = True
        self._index = -1

    def read(self) -> np.ndarray | None:
        for path in self._paths:
            self.current = path
            self._index += 1  # a skipped file still takes its place in time
            self.time = self._index / FOLDER_FPS
            try:
                return read_image(path)
            except SiamfaceError as exc:
                log.warning("skipped %s", exc)
        return None

    def close(self) -> None:
        self._paths = iter(())


class CaptureSource:
    """A video file (ends) or a local camera (must not end: a failed read means it is gone)."""

    def __init__(self, target: str | int, name: str, live: bool) -> None:
        self.name = name
        self._live = live
        self.time = 0.0
        self.stills = False
        self._index = -1
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            hint = (
                " (is it connected, and is this user in the 'video' group?)"
                if live
                else " (missing or not a video OpenCV can decode)"
            )
            raise SiamfaceError(f"source {name}: cannot open{hint}")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self._fps = fps if math.isfinite(fps) and fps > 0 else VIDEO_FPS_UNKNOWN

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok:
            if self._live:
                raise SiamfaceError(f"source {self.name}: camera stopped delivering frames (unplugged or in use?)")
            return None
        self._index += 1
        self.time = time.monotonic() if self._live else self._index / self._fps
        return as_bgr(frame)

    def close(self) -> None:
        self._capture.release()


class StreamSource:
    """An RTSP/HTTP stream read on a thread that keeps only the newest frame.

    A stalled queue would make the loop report the past, so old frames are dropped; a dropped
    connection is reopened with exponential back-off.
    """

    def __init__(self, url: str, timeout: float = 30.0, max_backoff: float = 10.0) -> None:
        self.name = url
        self._url = url
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._frame: np.ndarray | None = None
        self._captured = 0.0
        self.time = 0.0
        self.stills = False
        self._fresh = threading.Condition()
        self._stop = threading.Event()
        self.reconnects = 0
        self._thread = threading.Thread(target=self._run, name="stream-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            capture = cv2.VideoCapture(self._url)
            while capture.isOpened() and not self._stop.is_set():
                ok, frame = capture.read()
                if not ok:
                    break
                backoff = 0.5
                with self._fresh:
                    self._frame, self._captured = as_bgr(frame), time.monotonic()
                    self._fresh.notify_all()
            capture.release()
            if self._stop.is_set():
                return
            self.reconnects += 1
            log.warning("stream %s dropped; reconnecting in %.1f s", self._url, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def read(self) -> np.ndarray | None:
        with self._fresh:
            if not self._fresh.wait_for(lambda: self._frame is not None, timeout=self._timeout):
                raise SiamfaceError(f"source {self._url}: no frame for {self._timeout:.0f} s (stream down?)")
            frame, self._frame, self.time = self._frame, None, self._captured
        return frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Picamera2Source:
    """The Raspberry Pi camera; picamera2 comes from apt on the Pi, so it is imported only here."""

    def __init__(self, spec: str, size: tuple[int, int] = (640, 480)) -> None:
        self.name = spec
        self.time = 0.0
        self.stills = False
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise SiamfaceError(
                f"source {spec}: picamera2 is not installed (on Raspberry Pi OS: 'sudo apt install python3-picamera2' "
                "and a venv made with --system-site-packages)"
            ) from None
        except ValueError as exc:  # "numpy.dtype size changed": apt's simplejpeg built for numpy 1.x
            raise SiamfaceError(
                f"source {spec}: picamera2 does not import under numpy {np.__version__} ({exc}); apt's picamera2 "
                "needs apt's numpy 1.x in the venv: reinstall with systemd/install.sh, which keeps it"
            ) from None
        index = int(spec.split(":", 1)[1]) if ":" in spec else 0
        try:
            self._camera = Picamera2(index)
            # "RGB888" is laid out B, G, R in memory: what OpenCV calls BGR.
            self._camera.configure(self._camera.create_video_configuration(main={"size": size, "format": "RGB888"}))
            self._camera.start()
        except Exception as exc:  # libcamera reports a missing camera in several ways
            raise SiamfaceError(f"source {spec}: cannot open the Pi camera ({exc})") from None

    def read(self) -> np.ndarray | None:
        try:
            frame = self._camera.capture_array("main")
            self.time = time.monotonic()
            return as_bgr(frame)
        except Exception as exc:
            raise SiamfaceError(f"source {self.name}: camera stopped delivering frames ({exc})") from None

    def close(self) -> None:
        self._camera.stop()
        self._camera.close()


def open_source(spec: str, base_dir: Path | None = None) -> FrameSource:
    spec = spec.strip()
    if spec == "picamera2" or spec.startswith("picamera2:"):
        return Picamera2Source(spec)
    if spec.isdigit():
        return CaptureSource(int(spec), f"camera {spec}", live=True)
    if spec.startswith("/dev/video"):
        return CaptureSource(spec, spec, live=True)
    if "://" in spec:
        return StreamSource(spec)
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
        if not images:
            raise SiamfaceError(f"source {path}: folder has no images (expected {', '.join(sorted(IMAGE_SUFFIXES))})")
        return ImageFilesSource(images, str(path))
    if not path.exists():
        raise SiamfaceError(
            f"source {spec!r}: no such file or folder (expected a camera index, /dev/videoN, picamera2, a URL, "
            "a video file, an image folder or an image)"
        )
    if is_image_path(path):
        return ImageFilesSource([path], str(path))
    return CaptureSource(str(path), str(path), live=False)
