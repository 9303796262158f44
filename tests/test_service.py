"""The loop as a service: systemd notifications, a camera that vanishes, SIGHUP reloads, SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from siamface.edge.cli import main
from siamface.edge.config import parse
from siamface.edge.errors import SiamfaceError
from siamface.edge.images import read_image
from siamface.edge.runner import CameraGone, Runner

from .conftest import REPO

ASTRONAUT = REPO / "samples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    path = tmp_path_factory.mktemp("service") / "gallery.npz"
    assert main(["enroll", "--quiet", "--gallery", str(path), "--person", "eileen_collins", str(ASTRONAUT)]) == 0
    return path


def test_notifications_arrive_in_order(gallery, tmp_path):
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "siamface.edge.cli",
            "run",
            "--gallery",
            str(gallery),
            "--source",
            str(REPO / "samples" / "frames"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    listener.setblocking(False)
    messages = []
    while True:
        try:
            messages.append(listener.recv(4096).decode())
        except BlockingIOError:
            break
    assert messages[0].startswith("READY=1\nSTATUS=running, 1 people enrolled")
    assert messages[1:-1] == ["WATCHDOG=1"] * 4  # one per processed frame, none before READY
    assert messages[-1] == "STOPPING=1"


class FakeCamera:
    """Delivers ``frames`` frames, stamped with the test's clock, then behaves like a camera that was unplugged."""

    def __init__(self, frames: int, clock: list[float]):
        self.name = "fake camera"
        self.left = frames
        self.frame = read_image(ASTRONAUT)
        self.clock = clock
        self.time = 0.0
        self.stills = False

    def read(self):
        if self.left == 0:
            raise SiamfaceError("source fake camera: camera stopped delivering frames")
        self.left -= 1
        self.time = self.clock[0]
        return self.frame

    def close(self):
        pass


def test_a_vanishing_camera_is_reopened_with_backoff_then_the_process_gives_up(gallery, monkeypatch, capsys):
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    # Opens: a camera with 3 frames; two failed reopen attempts; a camera with 2 frames; then nothing.
    opens = iter([FakeCamera(3, now), SiamfaceError("cannot open"), SiamfaceError("cannot open"), FakeCamera(2, now)])

    def open_source(spec, base_dir=None, waiting=None):
        item = next(opens, SiamfaceError("source fake: cannot open"))
        if isinstance(item, Exception):
            raise item
        return item

    monkeypatch.setattr("siamface.edge.runner.open_source", open_source)
    config = parse(
        {"source": "picamera2", "gallery": str(gallery), "service": {"exit_after": 20, "max_backoff": 4}}, None
    )
    runner = Runner(lambda: config, clock=lambda: now[0], sleep=sleep)
    with pytest.raises(CameraGone, match=r"no frames for 20 s \(service.exit_after=20\)"):
        runner.run()
    assert runner.frames == 5 and runner.reconnects == 1
    assert sleeps[:3] == [0.5, 1.0, 2.0]  # back-off doubles...
    assert max(sleeps) == 4.0  # ...up to service.max_backoff
    assert sum(sleeps[3:]) == pytest.approx(20.0)  # gave up exactly when the camera had been gone 20 s
    events = [(e["event"], e["name"]) for e in map(__import__("json").loads, capsys.readouterr().out.splitlines())]
    # One enter when first named, one leave while the camera was gone; the return is within the cool-down.
    assert events == [("enter", "eileen_collins"), ("leave", "eileen_collins")]


def test_sighup_reloads_a_good_config_refuses_a_bad_one_and_sigterm_stops(gallery, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    # Appearances of 4 frames with 4 empty frames between, long enough to still run when signals arrive;
    # with a leave_after shorter than four frames of the folder's time (0.1 s each) and no cool-down,
    # each appearance gives a new enter event.
    for i in range(480):
        sample = "frame_01.jpg" if i % 8 < 4 else "frame_04.jpg"
        (frames / f"{i:04d}.jpg").symlink_to(REPO / "samples" / "frames" / sample)
    config = tmp_path / "config.yaml"
    body = (
        f"source: {frames}\ngallery: {gallery}\nmatch:\n  threshold: 0.5\n  track_threshold: 0.5\n"
        "tracking:\n  leave_after: 0.25\n  cooldown: 0\n"
    )
    config.write_text(body)
    child = subprocess.Popen(
        [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = [], []
    readers = [
        threading.Thread(target=lambda s=s, b=b: b.extend(s), daemon=True)
        for s, b in ((child.stdout, out), (child.stderr, err))
    ]
    for reader in readers:
        reader.start()

    def wait_for(predicate, what):
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}; stderr: {''.join(err)[-1500:]}"
            time.sleep(0.05)

    try:
        wait_for(lambda: any('"eileen_collins"' in line for line in out), "the first named event")
        # 0.999: above what the bundled model gives the enrolled photo placed in a frame (0.984).
        config.write_text(body.replace("threshold: 0.5", "threshold: 0.999"))
        child.send_signal(signal.SIGHUP)
        wait_for(
            lambda: any("reloaded: 1 people enrolled, threshold 0.999, track threshold 0.999" in line for line in err),
            "the reload",
        )
        seen = len(out)
        wait_for(lambda: any('"unknown"' in line for line in out[seen:]), "events under the new threshold")
        config.write_text("match: [oops\n")
        child.send_signal(signal.SIGHUP)
        wait_for(lambda: any("reload refused, the running config stays in force" in line for line in err), "refusal")
        seen = len(out)
        wait_for(lambda: sum('"enter"' in line for line in out[seen:]) >= 2, "events after the refused reload")
        assert all('"unknown"' in line for line in out[seen:])  # still the reloaded threshold of 0.999
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        child.kill()
    for reader in readers:
        reader.join(timeout=5)
    assert any("frames," in line and "mean ms per frame" in line for line in err)
    assert np.all([line.startswith("{") for line in out])


def test_a_notify_socket_nobody_reads_does_not_stall_the_loop(tmp_path):
    from siamface.edge.outputs.notify import Notifier

    address = str(tmp_path / "unread.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)  # bound but never read: its queue fills after a few messages
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1"})
    started = time.monotonic()
    for _ in range(500):
        notifier.watchdog()
    assert time.monotonic() - started < 1.0
    listener.close()
