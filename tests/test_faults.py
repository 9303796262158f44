"""Faults survived, each reproduced with real files and real processes: read the test names as the list.

(Issue 26's list; the README's service section sums them up in a table.)
"""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from siamface.edge import gallery as gallery_io
from siamface.edge.cli import main
from siamface.edge.enroll import enroll
from siamface.edge.errors import SiamfaceError
from siamface.edge.evaluation.config_edit import set_threshold
from siamface.edge.loop.detect import HaarDetector, make_detector
from siamface.edge.loop.embed import Embedder

from .conftest import REPO, one_face_photos

ASTRONAUT = str(REPO / "samples" / "astronaut.jpg")


def enroll_command(gallery, name, photo):
    return [
        sys.executable,
        "-m",
        "siamface.edge.cli",
        "enroll",
        "--quiet",
        "--gallery",
        str(gallery),
        "--person",
        name,
        photo,
    ]


def test_two_enrolments_at_once_both_land(tmp_path, dev_people):
    """Two processes enrol two people into one gallery at the same moment: neither is lost."""
    root, names = dev_people
    gallery = tmp_path / "gallery.npz"
    photos = {n: str(one_face_photos(root, n)[0]) for n in names[:4]}
    children = [
        subprocess.Popen(enroll_command(gallery, name, photo), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name, photo in photos.items()
    ]
    assert [child.wait(timeout=120) for child in children] == [0] * len(children)
    assert sorted(gallery_io.load(gallery).people) == sorted(photos)


def test_enrolling_after_a_model_change_embeds_everyone_again_from_their_photos(tmp_path, dev_people, fixture_model):
    root, names = dev_people
    alice, bob = one_face_photos(root, names[0])[0], one_face_photos(root, names[1])[0]
    old, _ = enroll(None, {"alice": [alice]}, HaarDetector(), Embedder(fixture_model), False)
    path = tmp_path / "gallery.npz"
    gallery_io.save(old, path)
    assert main(["enroll", "--quiet", "--gallery", str(path), "--person", "bob", str(bob)]) == 0
    new = gallery_io.load(path)
    bundled = Embedder()
    assert sorted(new.people) == ["alice", "bob"] and new.model_sha256 == bundled.fingerprint
    expected, _ = enroll(None, {"alice": [alice]}, make_detector(), bundled, False)
    assert np.allclose(new.people["alice"][0].embedding, expected.people["alice"][0].embedding, atol=1e-6)


def test_enrolling_after_a_model_change_refuses_when_someones_photos_are_gone(
    tmp_path, dev_people, fixture_model, capsys
):
    root, names = dev_people
    photo = tmp_path / "carol.jpg"
    photo.write_bytes(one_face_photos(root, names[2])[0].read_bytes())
    old, _ = enroll(None, {"carol": [photo]}, HaarDetector(), Embedder(fixture_model), False)
    path = tmp_path / "gallery.npz"
    gallery_io.save(old, path)
    photo.unlink()
    before = path.read_bytes()
    dave = str(one_face_photos(root, names[3])[0])
    assert main(["enroll", "--quiet", "--gallery", str(path), "--person", "dave", dave]) == 2
    error = capsys.readouterr().err
    assert "gallery.npz: made with another model, and the photos of carol are gone" in error
    assert "--person NAME PHOTO" in error and len(error.strip().splitlines()) == 1
    assert path.read_bytes() == before  # nobody dropped


def test_rewritten_config_and_gallery_keep_their_mode_and_owner(tmp_path, dev_people):
    """Calibrating or enrolling as root must not leave the service user unable to read its files."""
    config = tmp_path / "config.yaml"
    config.write_text("match:\n  threshold: 0.9\n")
    config.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(config, 4321, 4321)
    set_threshold(config, 0.95)
    info = config.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640 and "0.9500" in config.read_text()
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (4321, 4321)
    root, names = dev_people
    gallery = tmp_path / "gallery.npz"
    assert (
        main(["enroll", "--quiet", "--gallery", str(gallery), "--person", "a", str(one_face_photos(root, names[0])[0])])
        == 0
    )
    assert stat.S_IMODE(gallery.stat().st_mode) == 0o666 & ~_umask()  # a new file: the umask's mode, not 0600
    gallery.chmod(0o604)
    assert (
        main(["enroll", "--quiet", "--gallery", str(gallery), "--person", "b", str(one_face_photos(root, names[1])[0])])
        == 0
    )
    assert stat.S_IMODE(gallery.stat().st_mode) == 0o604


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_save_killed_mid_write_leaves_no_litter_for_long(tmp_path):
    """A temporary file left by a killed writer is removed by the next save once it is stale; one
    that a live writer may still be filling is left alone."""
    from siamface.edge.atomic import STALE_SECONDS, write_text_atomically

    target = tmp_path / "config.yaml"
    stale, fresh = tmp_path / ".config.yaml.abc123.tmp", tmp_path / ".config.yaml.def456.tmp"
    for leftover in (stale, fresh):
        leftover.write_text("half a file")
    old = os.path.getmtime(stale) - STALE_SECONDS - 60
    os.utime(stale, (old, old))
    write_text_atomically(target, "source: 0\n")
    assert target.read_text() == "source: 0\n"
    assert not stale.exists() and fresh.exists()


def test_a_person_name_is_checked_the_same_on_the_command_line_as_in_the_config(tmp_path, capsys):
    astronaut = str(REPO / "samples" / "astronaut.jpg")
    for bad in ("unknown", "", " ", "two\nlines"):
        assert main(["enroll", "--quiet", "--gallery", str(tmp_path / "g.npz"), "--person", bad, astronaut]) == 2
        error = capsys.readouterr().err
        assert "--person: name" in error and "not 'unknown'" in error, error
    assert not (tmp_path / "g.npz").exists()


class TinyServer:
    """A TCP server on 127.0.0.1 that answers each connection with the next of ``replies`` (raw
    bytes: a real HTTP reply, or garbage) and counts the connections."""

    def __init__(self, replies):
        import socket
        import threading

        self.replies, self.connections = list(replies), 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                reply = self.replies[min(self.connections, len(self.replies) - 1)]
                self.connections += 1
                conn.sendall(reply)

    def close(self):
        self._socket.close()


OK_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def test_the_webhook_thread_survives_a_reply_that_is_not_http():
    from siamface.edge.outputs.webhook import Webhook

    server = TinyServer([b"this is not HTTP at all\r\n\r\n", OK_REPLY])
    hook = Webhook(f"http://127.0.0.1:{server.port}/events", retries=0)
    hook.send('{"event":"enter"}')
    hook.send('{"event":"leave"}')
    hook.close()
    server.close()
    assert server.connections == 2 and hook.sent == 1  # the second event went through: the thread lived


def test_the_webhook_does_not_retry_a_client_error():
    from siamface.edge.outputs.webhook import Webhook

    server = TinyServer([b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"])
    hook = Webhook(f"http://127.0.0.1:{server.port}/events", retries=3)
    hook.send('{"event":"enter"}')
    hook.close()
    server.close()
    assert server.connections == 1 and hook.sent == 0  # a wrong token does not mend by asking four times


@pytest.mark.parametrize("url", ["http://localhost:abc/x", "http:///x", "ftp://example/x"])
def test_a_webhook_url_that_cannot_work_is_a_config_error(url):
    from siamface.edge.config import parse
    from siamface.edge.errors import SiamfaceError

    with pytest.raises(SiamfaceError, match=r"defaults: webhook.url=.*expected an http:// or https:// URL"):
        parse({"webhook": {"url": url}}, None)


@pytest.fixture(scope="module")
def astronaut_gallery(tmp_path_factory):
    gallery = tmp_path_factory.mktemp("gallery") / "gallery.npz"
    photo = str(REPO / "samples" / "astronaut.jpg")
    assert main(["enroll", "--quiet", "--gallery", str(gallery), "--person", "eileen", photo]) == 0
    return gallery


def test_a_snapshots_folder_that_cannot_be_written_is_a_one_line_error_at_start(tmp_path, astronaut_gallery, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"source: {REPO / 'samples' / 'frames'}\ngallery: {astronaut_gallery}\n"
        f"snapshots:\n  folder: {blocker / 'unknown'}\n"
    )
    assert main(["run", "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "snapshots.folder:" in error[0] and "cannot be written" in error[0], error


def test_annotate_where_nothing_can_be_written_is_a_one_line_error(tmp_path, astronaut_gallery, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for target in (blocker / "out.mp4", blocker / "frames", blocker):
        args = ["run", "--source", str(REPO / "samples" / "frames"), "--gallery", str(astronaut_gallery)]
        assert main([*args, "--annotate", str(target)]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and f"--annotate {target}:" in error[0], error


def test_a_snapshot_that_fails_to_save_loses_the_crop_not_the_service(
    tmp_path, astronaut_gallery, monkeypatch, capsys, caplog
):
    import errno
    import json

    from siamface.edge.outputs.snapshots import Snapshots

    def disk_full(self, crop, name):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Snapshots, "save", disk_full)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"source: {REPO / 'samples' / 'frames'}\ngallery: {astronaut_gallery}\n"
        f"match:\n  threshold: 0.999\n  track_threshold: 0.999\nsnapshots:\n  folder: {tmp_path / 'shots'}\n"
    )
    capsys.readouterr()
    assert main(["run", "--config", str(config)]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["event"] == "enter" and events[-1]["event"] == "leave"
    assert {e["name"] for e in events} == {"unknown"}
    assert "not saved: [Errno 28] No space left on device" in caplog.text


def _one_line(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("face-edge: error:") and "Traceback" not in err[0], err
    return err[0]


def test_configs_that_cannot_be_read_are_one_line_errors(tmp_path, capsys):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"camera: door\nsource: caf\xe9\n")
    assert "latin.yaml: line 2: not UTF-8 text (byte 0xe9)" in _one_line(capsys, ["run", "--config", str(latin)])
    assert "is a folder, expected a config file" in _one_line(capsys, ["run", "--config", str(tmp_path)])


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (lambda p: p.write_bytes(b""), "not a readable siamface gallery"),
        (
            lambda p: np.savez(p, header=np.frombuffer(b'{"format": 1}', np.uint8), embeddings=np.zeros((0, 128))),
            "gallery header damaged",
        ),
        (
            lambda p: np.savez(p, header=np.frombuffer(b"[1, 2]", np.uint8), embeddings=np.zeros((0, 128))),
            "gallery format",
        ),
    ],
)
def test_damaged_galleries_are_one_line_errors_that_say_how_to_go_on(tmp_path, capsys, write, expected):
    gallery = tmp_path / "gallery.npz"
    write(gallery)
    line = _one_line(capsys, ["run", "--gallery", str(gallery), "--source", str(REPO / "samples" / "frames")])
    assert expected in line and f"mv {gallery} {gallery}.broken" in line
    # enrolment, which would start from it, says the same instead of failing the same way unexplained
    line = _one_line(capsys, ["enroll", "--quiet", "--gallery", str(gallery), "--person", "x", ASTRONAUT])
    assert expected in line


def test_a_gallery_whose_embeddings_have_the_wrong_width_is_refused_before_the_first_face(
    tmp_path, astronaut_gallery, capsys
):
    original = gallery_io.load(astronaut_gallery)
    for records in original.people.values():
        for record in records:
            record.embedding = record.embedding[:64]
    gallery = tmp_path / "narrow.npz"
    gallery_io.save(original, gallery)
    line = _one_line(capsys, ["run", "--gallery", str(gallery), "--source", str(REPO / "samples" / "frames")])
    assert "narrow.npz: embeddings of shape (1, 64), the header says 128 wide" in line


def test_a_cascade_file_that_is_not_a_cascade_is_a_one_line_error(tmp_path, astronaut_gallery, capsys):
    bogus = tmp_path / "cascade.xml"
    bogus.write_text("<opencv_storage>not a cascade</opencv_storage>\n")
    config = tmp_path / "config.yaml"
    detector = f"detector:\n  kind: haar\n  cascade: {bogus}\n"
    config.write_text(f"gallery: {astronaut_gallery}\nsource: {ASTRONAUT}\n{detector}")
    assert "cascade.xml: not a Haar cascade OpenCV can load" in _one_line(capsys, ["run", "--config", str(config)])


def test_a_reader_that_goes_away_ends_the_run_quietly(astronaut_gallery):
    """face-edge run | head -1: the pipe closes after the first event; no traceback."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "siamface.edge.cli",
            "run",
            "--gallery",
            str(astronaut_gallery),
            "--source",
            str(REPO / "samples" / "frames"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.readline()
    child.stdout.close()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0 and b"Traceback" not in err, err.decode()


def _bad_configs(tmp_path, good: str):
    """(what, config text or bytes) of reloads that must be refused with the service running on."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    bogus = tmp_path / "cascade.xml"
    bogus.write_text("<opencv_storage/>\n")
    import socket

    taken = socket.create_server(("127.0.0.1", 0))  # held for the test's length: the port is in use
    port = taken.getsockname()[1]
    return taken, [
        ("a byte that is not UTF-8", good.encode() + b"camera: caf\xe9\n"),
        ("a source that will not open", good.replace("source:", "source: /nowhere/at/all\n#")),
        ("a snapshots folder that cannot be written", good + f"snapshots:\n  folder: {blocker / 'x'}\n"),
        ("an empty gallery file", good.replace("gallery:", f"gallery: {empty}\n#")),
        ("a cascade file that is not a cascade", good + f"detector:\n  kind: haar\n  cascade: {bogus}\n"),
        ("a Prometheus port in use", good + f"prometheus:\n  port: {port}\n"),
        ("YAML that is not valid", "match: [oops\n"),
    ]


def test_a_reload_to_a_config_that_cannot_work_is_refused_and_the_service_runs_on(tmp_path, astronaut_gallery, caplog):
    from siamface.edge import config as config_io
    from siamface.edge.runner import Runner

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(24):
        (frames / f"{i:04d}.jpg").symlink_to(REPO / "samples" / "frames" / f"frame_0{1 + i % 4}.jpg")
    good = f"source: {frames}\ngallery: {astronaut_gallery}\n"
    taken, cases = _bad_configs(tmp_path, good)
    path = tmp_path / "config.yaml"
    try:
        for what, bad in cases:
            path.write_text(good)
            calls, runners = [0], []

            def clock(bad=bad, calls=calls, runners=runners):
                calls[0] += 1
                if calls[0] == 10:  # mid-run: the config is changed and the service told to reload
                    path.write_bytes(bad) if isinstance(bad, bytes) else path.write_text(bad)
                    runners[0].request_reload()
                return calls[0]

            runner = Runner(lambda: config_io.load(path), clock=clock)
            runners.append(runner)
            caplog.clear()
            assert runner.run() == 0, what
            assert runner.frames == 24, what  # every frame was processed, before and after
            refusals = [r for r in caplog.records if "reload refused" in r.getMessage()]
            assert len(refusals) == 1 and "\n" not in refusals[0].getMessage(), (what, caplog.text)
    finally:
        taken.close()


def test_a_stop_while_the_camera_is_gone_is_prompt_and_a_clean_exit(astronaut_gallery, monkeypatch, capsys):
    """SIGTERM during the back-off between reopen attempts: the wait ends at once, the leave events
    are emitted, and the exit status is 0 (not systemd's cue for a failure)."""
    import json
    import threading
    import time

    from siamface.edge import config as config_io
    from siamface.edge.images import read_image
    from siamface.edge.runner import Runner

    class Camera:
        """Three frames of the astronaut, then unplugged; reopening fails from then on."""

        name, stills, time = "camera", False, 0.0

        def __init__(self):
            self.left, self.frame = 3, read_image(ASTRONAUT)

        def read(self):
            if self.left == 0:
                raise SiamfaceError("source camera: camera stopped delivering frames")
            self.left -= 1
            self.time = time.monotonic()
            return self.frame

        def close(self):
            pass

    opened = []

    def open_source(spec, base_dir=None, waiting=None):
        if opened:
            raise SiamfaceError("source camera: cannot open")
        opened.append(Camera())
        return opened[0]

    monkeypatch.setattr("siamface.edge.runner.open_source", open_source)
    config = config_io.parse(
        {"source": "0", "gallery": str(astronaut_gallery), "service": {"exit_after": 60, "max_backoff": 10}}, None
    )
    runner = Runner(lambda: config)
    threading.Timer(1.5, runner.request_stop).start()
    capsys.readouterr()
    started = time.monotonic()
    assert runner.run() == 0
    assert time.monotonic() - started < 3.0  # not the rest of a 10 s back-off, nor exit_after's 60 s
    events = [(e["event"], e["name"]) for e in map(json.loads, capsys.readouterr().out.splitlines())]
    assert events == [("enter", "eileen"), ("leave", "eileen")]


def test_a_folder_given_as_the_model_is_a_one_line_error(tmp_path, capsys):
    line = _one_line(capsys, ["verify", "--model", str(tmp_path), ASTRONAUT, ASTRONAUT])
    assert "is a folder, expected an ONNX model file (model.path)" in line


class Service:
    """``face-edge run --config config`` as systemd runs it: a child process with a notify socket
    (watchdog every 0.5 s), its output collected as it comes."""

    def __init__(self, tmp_path, config_text: str):
        import socket
        import threading

        config = tmp_path / "config.yaml"
        config.write_text(config_text)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / "notify.sock"))
        self.messages: list[tuple[float, str]] = []
        self.out: list[str] = []
        self.err: list[str] = []
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "1000000"}
        self.child = subprocess.Popen(
            [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for target in (
            lambda: self.out.extend(self.child.stdout),
            lambda: self.err.extend(self.child.stderr),
            self._listen,
        ):
            threading.Thread(target=target, daemon=True).start()

    def _listen(self):
        import time

        while True:
            try:
                message = self.notify.recv(4096).decode()
            except OSError:
                return
            self.messages.append((time.monotonic(), message))

    def wait_for(self, predicate, what: str, timeout: float = 30.0):
        import time

        deadline = time.monotonic() + timeout
        while not predicate():
            assert self.child.poll() is None or predicate(), f"exited before {what}: {''.join(self.err)[-1500:]}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}; stderr: {''.join(self.err)[-1500:]}"
            time.sleep(0.05)

    def events(self) -> list[tuple[str, str]]:
        import json

        return [(e["event"], e["name"]) for e in map(json.loads, self.out)]

    def close(self):
        self.child.kill()
        self.child.wait()
        self.notify.close()


@pytest.fixture
def stream():
    from pathlib import Path

    from .mjpeg_server import MjpegServer

    server = MjpegServer(Path(ASTRONAUT))
    yield server
    server.close()


@pytest.mark.parametrize("fault", ["down", "hang"])
def test_a_stop_while_a_stream_is_down_or_hung_is_prompt_and_a_clean_exit(tmp_path, astronaut_gallery, stream, fault):
    import signal
    import time

    service = Service(tmp_path, f"source: {stream.url}\ngallery: {astronaut_gallery}\n")
    try:
        service.wait_for(lambda: service.events() == [("enter", "eileen")], "eileen's enter event")
        stream.state = fault
        time.sleep(3)  # down: reconnect attempts and back-off; hung: the reader stuck in FFmpeg's read
        started = time.monotonic()
        service.child.send_signal(signal.SIGTERM)
        assert service.child.wait(timeout=10) == 0
        assert time.monotonic() - started < 2.5  # within the unit's TimeoutStopSec=10 by far
        service.wait_for(lambda: len(service.out) == 2, "the leave event")
        assert service.events() == [("enter", "eileen"), ("leave", "eileen")]
        assert service.messages[-1][1] == "STOPPING=1"
    finally:
        service.close()


def test_a_stream_outage_is_reconnected_counted_and_the_watchdog_fed_throughout(tmp_path, astronaut_gallery, stream):
    import socket
    import time
    import urllib.request

    pytest.importorskip("prometheus_client", reason="the metrics extra: pip install -e '.[metrics]'")
    with socket.socket() as probe:  # a free port for the metrics endpoint
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = Service(
        tmp_path,
        f"source: {stream.url}\ngallery: {astronaut_gallery}\nprometheus:\n  port: {port}\n"
        "service:\n  status_every: 0.5\n  max_backoff: 1\n",
    )
    try:
        service.wait_for(lambda: any(m.startswith("READY=1") for _, m in service.messages), "READY=1")
        stream.state = "down"
        outage = time.monotonic()
        time.sleep(4)
        stream.state = "up"
        service.wait_for(lambda: any("(reconnect 1)" in line for line in service.err), "the reconnection")
        service.wait_for(
            lambda: any("1 reconnects" in m for _, m in service.messages), "a STATUS= counting the reconnect"
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as reply:
            assert "siamface_camera_reconnects_total 1.0" in reply.read().decode()
        # Attempts every 0.5, 1, 1, 1 s (max_backoff) during the 4 s outage: the first connection and 4 more.
        assert stream.connections >= 5
        pings = [t for t, m in service.messages if m == "WATCHDOG=1" and t > outage]
        assert pings and max(np.diff([outage, *pings])) < 1.0  # half-interval pings right through the outage
    finally:
        service.close()


def test_a_stream_gone_for_exit_after_ends_the_service_with_status_1(tmp_path, astronaut_gallery, stream):
    import time

    service = Service(
        tmp_path, f"source: {stream.url}\ngallery: {astronaut_gallery}\nservice:\n  exit_after: 3\n  max_backoff: 1\n"
    )
    try:
        service.wait_for(lambda: service.events() == [("enter", "eileen")], "eileen's enter event")
        stream.state = "down"
        started = time.monotonic()
        assert service.child.wait(timeout=20) == 1
        assert 2.5 < time.monotonic() - started < 5.0  # exit_after=3, not FFmpeg's or an old 30 s stream timeout
        service.wait_for(lambda: any("exiting so that the service is restarted" in line for line in service.err), "")
        assert any("no frames for 3 s (service.exit_after=3)" in line for line in service.err)
        assert service.events() == [("enter", "eileen"), ("leave", "eileen")]  # nobody left open
    finally:
        service.close()


def test_a_48_megapixel_photo_is_enrolled_reduced_and_a_huge_png_refused_in_one_line(tmp_path):
    import cv2

    face = cv2.imread(ASTRONAUT)
    phone = tmp_path / "phone.jpg"
    cv2.imwrite(str(phone), cv2.resize(face, (8000, 6000)))  # a phone camera's 48 MP
    gallery = tmp_path / "g.npz"
    # Run from a fresh parent, whose only child is the enrolment, to read that child's peak memory.
    measure = (
        "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [sys.executable, "-c", measure, *enroll_command(gallery, "eileen", str(phone))]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    code, peak_kb = map(int, result.stdout.split("\n")[-2].split())
    assert code == 0, result.stderr
    # Decoded in full and searched at full size this took 2.8 GB; read at half size, a small board's share.
    assert peak_kb < 600_000
    assert list(gallery_io.load(gallery).people) == ["eileen"]
    poster = tmp_path / "poster.png"
    cv2.imwrite(str(poster), cv2.resize(face, (6000, 6000), interpolation=cv2.INTER_NEAREST))
    result = subprocess.run(enroll_command(gallery, "poster", str(poster)), cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and f"{poster}: 6000x6000 pixels, above the 25-megapixel limit" in error[0], error


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_named_as_a_photo_is_refused_not_waited_on(tmp_path, kind):
    photo = tmp_path / "photo.jpg"
    if kind == "fifo":
        os.mkfifo(photo)  # nobody ever writes to it: reading it would wait for ever
    else:
        photo = "/dev/zero"  # endless: reading it would fill the memory
    result = subprocess.run(
        enroll_command(tmp_path / "g.npz", "eileen", str(photo)), cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and f"{photo}: not a regular file (a FIFO or a device?), expected an image file" in error[0]


def test_annotate_onto_the_video_being_read_is_refused_and_the_video_kept(tmp_path, astronaut_gallery, capsys):
    import cv2

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    for _ in range(5):
        writer.write(cv2.imread(ASTRONAUT))
    writer.release()
    before = clip.read_bytes()
    args = ["run", "--source", str(clip), "--gallery", str(astronaut_gallery), "--annotate", str(clip)]
    line = _one_line(capsys, args)
    assert f"--annotate {clip}: is the source being read" in line
    assert clip.read_bytes() == before


def test_an_empty_config_says_it_reads_camera_0(tmp_path, astronaut_gallery, capsys, caplog):
    config = tmp_path / "config.yaml"
    config.write_text("")
    # With no camera here the run ends at opening it, with one the first frame; the warning came first.
    main(["run", "--config", str(config), "--gallery", str(astronaut_gallery), "--max-frames", "1"])
    assert f"{config} sets no source: reading camera 0, the default" in caplog.text
