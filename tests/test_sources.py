import sys
import threading
import time
import types

import cv2
import numpy as np
import pytest

from siamface.edge.errors import SiamfaceError
from siamface.edge.images import read_image
from siamface.edge.loop.sources import Waiting, open_source

from .conftest import REPO
from .mjpeg_server import MjpegServer

pytestmark = pytest.mark.arm64

ASTRONAUT = REPO / "samples" / "astronaut.jpg"


class FakePicamera2:
    """Stands in for picamera2.Picamera2: delivers a few frames, then the camera 'vanishes'."""

    configured = None

    def __init__(self, index=0):
        self.frames = 3

    def create_video_configuration(self, main):
        return {"main": main}

    def configure(self, config):
        FakePicamera2.configured = config

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
    assert FakePicamera2.configured["main"]["format"] == "RGB888"
    assert source.read().shape == (512, 512, 3)
    # Its reader thread takes the other two frames and then meets the error; read() passes that on.
    with pytest.raises(SiamfaceError, match="source picamera2: camera stopped delivering frames"):
        while True:
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


@pytest.fixture
def stream():
    server = MjpegServer(ASTRONAUT)
    yield server
    server.close()


def test_a_stream_gives_the_newest_frame_not_a_queue(stream):
    source = open_source(stream.url)
    try:
        assert source.read().shape == (512, 512, 3)
        time.sleep(1.0)  # 20 frames arrive meanwhile; a queue would hand over the oldest
        source.read()
        assert time.monotonic() - source.time < 0.2, "read() returned a stale frame, not the newest"
    finally:
        source.close()


def test_a_stream_that_is_down_cannot_be_opened(stream):
    stream.state = "down"
    with pytest.raises(SiamfaceError, match=r"source http://127.0.0.1:\d+/stream.mjpg: cannot open"):
        open_source(stream.url)


def test_a_stream_that_goes_silent_is_reported_gone_after_stall_after(stream):
    source = open_source(stream.url, waiting=Waiting(stall_after=1.0))
    try:
        source.read()
        stream.state = "hang"
        started = time.monotonic()
        with pytest.raises(SiamfaceError, match=r"no frame for 1 s \(hung or stream down\?\)"):
            while True:
                source.read()  # the frames sent before the hang, then the wait
        assert 0.9 < time.monotonic() - started < 2.0
    finally:
        source.close()


def test_a_stop_ends_a_wait_for_frames_at_once_and_the_watchdog_is_fed_meanwhile(stream):
    stop, pings = threading.Event(), []
    source = open_source(stream.url, waiting=Waiting(stop, lambda: pings.append(time.monotonic()), stall_after=30))
    source.read()
    stream.state = "hang"
    threading.Timer(1.5, stop.set).start()
    started = time.monotonic()
    while source.read() is not None:  # the frames sent before the hang, then the wait
        pass
    assert 1.4 < time.monotonic() - started < 2.0  # a stop, not an error, and not 30 s later
    assert len(pings) >= 5 and max(np.diff(pings)) < 0.5
    started = time.monotonic()
    source.close()  # its reader is stuck in FFmpeg's read; closing does not wait for that
    assert time.monotonic() - started < 1.5
