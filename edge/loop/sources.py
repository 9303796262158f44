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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import SiamfaceError
from ..images import IMAGE_SUFFIXES, is_image_path, read_image

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


class VideoFileSource:
    """A video file, read on the loop's own thread: every frame in order, then the end."""

    def __init__(self, path: str) -> None:
        self.name = path
        self.time = 0.0
        self.stills = False
        self._index = -1
        self._capture = cv2.VideoCapture(path)
        if not self._capture.isOpened():
            raise SiamfaceError(f"source {path}: cannot open (missing or not a video OpenCV can decode)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self._fps = fps if math.isfinite(fps) and fps > 0 else VIDEO_FPS_UNKNOWN

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok:
            return None
        self._index += 1
        self.time = self._index / self._fps
        return as_bgr(frame)

    def close(self) -> None:
        self._capture.release()


class Device(Protocol):
    """A camera or stream connection: ``grab`` blocks for the next frame, raising SiamfaceError when the
    device is gone."""

    def grab(self) -> np.ndarray: ...

    def release(self) -> None: ...


# FFmpeg's own limits for a stream that accepts a connection and then sends nothing.
STREAM_TIMEOUT_MS = 10_000


class CaptureDevice:
    """A local camera (an index or /dev/videoN) or a stream URL, through OpenCV."""

    def __init__(self, target: str | int, name: str) -> None:
        self.name = name
        if isinstance(target, str) and "://" in target:
            timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
            timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
            self._capture = cv2.VideoCapture(target, cv2.CAP_ANY, timeouts)
            hint = " (is the stream up and the URL right?)"
        else:
            self._capture = cv2.VideoCapture(target)
            hint = " (is it connected, and is this user in the 'video' group?)"
        if not self._capture.isOpened():
            self._capture.release()
            raise SiamfaceError(f"source {name}: cannot open{hint}")

    def grab(self) -> np.ndarray:
        ok, frame = self._capture.read()
        if not ok:
            raise SiamfaceError(f"source {self.name}: stopped delivering frames (unplugged, in use or stream down?)")
        return frame

    def release(self) -> None:
        self._capture.release()


class Picamera2Device:
    """The Raspberry Pi camera; picamera2 comes from apt on the Pi, so it is imported only here."""

    def __init__(self, spec: str, size: tuple[int, int] = (640, 480)) -> None:
        self.name = spec
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

    def grab(self) -> np.ndarray:
        try:
            return self._camera.capture_array("main")
        except Exception as exc:
            raise SiamfaceError(f"source {self.name}: camera stopped delivering frames ({exc})") from None

    def release(self) -> None:
        self._camera.stop()
        self._camera.close()


@dataclass
class Waiting:
    """How a live source waits for frames: ``stop`` ends a wait at once (read returns None), ``alive``
    is called every ``tick`` seconds of waiting (the service's watchdog ping), and a source that gave no
    frame for ``stall_after`` seconds is reported gone."""

    stop: threading.Event = field(default_factory=threading.Event)
    alive: Callable[[], None] = lambda: None
    stall_after: float = 10.0
    tick: float = 0.25


class LiveSource:
    """A camera or stream, read on a thread of its own that keeps only the newest frame.

    The loop is slower than most cameras, and a queue would make it report the past, so older frames
    are dropped. The thread owns the device (opens, reads, releases it), so a device hung inside a
    driver or network call stalls neither the loop nor a stop. A lost device is reported by ``read``
    as SiamfaceError and is not reopened here: the runner reopens every kind of source under one
    policy (service.max_backoff, service.exit_after).
    """

    def __init__(self, name: str, open_device: Callable[[], Device], waiting: Waiting | None = None) -> None:
        self.name = name
        self.time = 0.0
        self.stills = False
        self._waiting = waiting or Waiting()
        self._frame: np.ndarray | None = None
        self._captured = 0.0
        self._error: str | None = None
        self._opened = False
        self._fresh = threading.Condition()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(open_device,), name=f"read {name}", daemon=True)
        self._thread.start()

    def _run(self, open_device: Callable[[], Device]) -> None:
        try:
            device = open_device()
        except Exception as exc:
            self._fail(exc)
            return
        with self._fresh:
            self._opened = True
            self._fresh.notify_all()
        try:
            while not self._closed.is_set():
                frame = as_bgr(device.grab())
                with self._fresh:
                    self._frame, self._captured = frame, time.monotonic()
                    self._fresh.notify_all()
        except Exception as exc:
            self._fail(exc)
        finally:
            try:
                device.release()
            except Exception as exc:  # the device is being given up anyway
                log.debug("releasing %s: %s", self.name, exc)

    def _fail(self, exc: Exception) -> None:
        with self._fresh:
            self._error = str(exc) if isinstance(exc, SiamfaceError) else f"source {self.name}: {exc}"
            self._fresh.notify_all()

    def wait_open(self) -> None:
        """Returns once the device is open (or a stop was requested); raises SiamfaceError if it
        cannot be opened."""
        with self._fresh:
            while not self._opened and self._error is None and not self._waiting.stop.is_set():
                self._fresh.wait(self._waiting.tick)
                self._waiting.alive()
            if self._error is not None:
                raise SiamfaceError(self._error)

    def read(self) -> np.ndarray | None:
        waiting = self._waiting
        started = time.monotonic()
        with self._fresh:
            while self._frame is None:
                if self._error is not None:
                    raise SiamfaceError(self._error)
                if waiting.stop.is_set():
                    return None
                waited = time.monotonic() - started
                if waited >= waiting.stall_after:
                    raise SiamfaceError(f"source {self.name}: no frame for {waited:.0f} s (hung or stream down?)")
                self._fresh.wait(min(waiting.tick, waiting.stall_after - waited))
                waiting.alive()
            frame, self._frame, self.time = self._frame, None, self._captured
        return frame

    def close(self) -> None:
        self._closed.set()
        # A device hung in a driver call keeps its thread: a daemon, which releases the device if the
        # call ever returns. A stop waits for it a second at most.
        self._thread.join(timeout=1.0)


def open_source(spec: str, base_dir: Path | None = None, waiting: Waiting | None = None) -> FrameSource:
    """The source ``spec`` names. Local cameras are opened here, so a missing one is an error at once;
    a stream connects on its reader thread, waited for here in a way a stop ends at once."""
    spec = spec.strip()
    if spec == "picamera2" or spec.startswith("picamera2:"):
        camera = Picamera2Device(spec)
        return LiveSource(spec, lambda: camera, waiting)
    if spec.isdigit() or spec.startswith("/dev/video"):
        name = f"camera {spec}" if spec.isdigit() else spec
        device = CaptureDevice(int(spec) if spec.isdigit() else spec, name)
        return LiveSource(name, lambda: device, waiting)
    if "://" in spec:
        stream = LiveSource(spec, lambda: CaptureDevice(spec, spec), waiting)
        stream.wait_open()
        return stream
    path = source_path(spec, base_dir)
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
    return VideoFileSource(str(path))


def source_path(spec: str, base_dir: Path | None = None) -> Path | None:
    """The file or folder a source spec names, or None for a camera or a stream."""
    spec = spec.strip()
    if spec.startswith(("picamera2", "/dev/video")) or spec.isdigit() or "://" in spec:
        return None
    path = Path(spec).expanduser()
    return base_dir / path if not path.is_absolute() and base_dir is not None else path
