import sys
import threading
import time
import types

import cv2
import numpy as np
import pytest

from edge import sources
from edge.errors import SiamfaceError
from edge.images import read_image
from edge.sources import StreamSource, open_source

from .conftest import REPO

ASTRONAUT = REPO / "samples" / "astronaut.jpg"


class FakePicamera2:
    """Stands in for picamera2.Picamera2: delivers a few frames, then the camera 'vanishes'."""

    def __init__(self, index=0):
        self.frames = 3
        self.configured = None

    def create_video_configuration(self, main):
        return {"main": main}

    def configure(self, config):
        self.configured = config

    def start(self):
        pass

    def capture_array(self, stream="main"):
        if self.frames == 0:
            raise RuntimeError("Camera frontend has timed out!")
        self.frames -= 1
        return read_image(ASTRONAUT)

    def stop(self):
        pass

    def close(self):
        pass


def test_picamera2_is_imported_only_when_used_and_its_loss_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    source = open_source("picamera2")
    assert source._camera.configured["main"]["format"] == "RGB888"
    frames = [source.read() for _ in range(3)]
    assert all(f.shape == (512, 512, 3) for f in frames)
    with pytest.raises(SiamfaceError, match="source picamera2: camera stopped delivering frames"):
        source.read()
    source.close()


def test_missing_picamera2_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails as off a Pi
    with pytest.raises(SiamfaceError, match=r"picamera2 is not installed .* python3-picamera2"):
        open_source("picamera2")


def test_picamera2_broken_by_numpy_2_says_how_to_mend_it(monkeypatch, tmp_path):
    # As on Pi OS when pip put numpy 2 in the venv: apt's simplejpeg, imported by picamera2, refuses it.
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text(
        "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility. "
        "Expected 96 from C header, got 88 from PyObject')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    with pytest.raises(SiamfaceError, match=r"source picamera2: picamera2 does not import under numpy .*install\.sh"):
        open_source("picamera2")


def test_camera_that_is_not_there():
    with pytest.raises(SiamfaceError, match="source /dev/video99: cannot open"):
        open_source("/dev/video99")


def test_video_file_ends_and_single_image(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(5):
        writer.write(np.full((240, 320, 3), 40 * i, np.uint8))
    writer.release()
    source = open_source(str(path))
    count = 0
    while source.read() is not None:
        count += 1
    assert count == 5
    image = open_source(str(ASTRONAUT))
    assert image.read().shape == (512, 512, 3) and image.read() is None


class FlakyCapture:
    """A stream that fails to open once, drops after 5 frames, then streams numbered frames."""

    opened = 0
    lock = threading.Lock()

    def __init__(self, url):
        with FlakyCapture.lock:
            FlakyCapture.opened += 1
            self.attempt = FlakyCapture.opened
        self.count = 0

    def isOpened(self):
        return self.attempt > 1

    def read(self):
        if self.attempt == 2 and self.count >= 5:
            return False, None
        self.count += 1
        time.sleep(0.001)
        return True, np.full((4, 4, 3), min(self.count, 255), np.uint8)

    def release(self):
        pass


def test_stream_reconnects_with_backoff_and_gives_the_newest_frame(monkeypatch):
    monkeypatch.setattr(sources.cv2, "VideoCapture", FlakyCapture)
    source = StreamSource("rtsp://camera.invalid/stream", timeout=10)
    try:
        first = source.read()
        assert first is not None
        deadline = time.monotonic() + 5
        while source.reconnects < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert source.reconnects == 2  # failed open, then the drop
        time.sleep(1.5)  # past the 0.5 s back-off, while the third connection streams
        newest = source.read()
        assert newest[0, 0, 0] > 100, "read() returned a stale frame, not the newest"
    finally:
        source.close()


def test_stream_that_never_delivers_times_out(monkeypatch):
    class Dead(FlakyCapture):
        def isOpened(self):
            return False

    monkeypatch.setattr(sources.cv2, "VideoCapture", Dead)
    source = StreamSource("rtsp://camera.invalid/stream", timeout=0.5)
    with pytest.raises(SiamfaceError, match=r"no frame for 0 s|no frame for 1 s"):
        source.read()
    source.close()
