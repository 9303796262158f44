"""Optional outputs: the webhook (a real HTTP server on 127.0.0.1), unknown-face snapshots, secrets."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from siamface.edge.cli import main
from siamface.edge.outputs.snapshots import Snapshots
from siamface.edge.outputs.webhook import Webhook

from .conftest import REPO

pytestmark = pytest.mark.arm64


class Receiver(BaseHTTPRequestHandler):
    """Fails the first request with 500, then records bodies and auth headers; may be slow."""

    received: ClassVar[list] = []
    failures_left = 1
    delay = 0.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(type(self).delay)
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(500)
            self.end_headers()
            return
        type(self).received.append((json.loads(body), self.headers.get("Authorization")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Receiver.received, Receiver.failures_left, Receiver.delay = [], 1, 0.0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/events"
    httpd.shutdown()


def test_webhook_retries_and_sends_the_token(server):
    hook = Webhook(server, token="s3cret", timeout=2, retries=2)
    hook.send(json.dumps({"event": "enter", "name": "alice"}))
    hook.close()
    assert Receiver.received == [({"event": "enter", "name": "alice"}, "Bearer s3cret")]
    assert hook.sent == 1


def test_a_slow_server_never_blocks_the_caller(server):
    Receiver.failures_left, Receiver.delay = 0, 0.5
    hook = Webhook(server, timeout=5, retries=0, backlog=5)
    started = time.perf_counter()
    for i in range(20):
        hook.send(json.dumps({"n": i}))
    assert time.perf_counter() - started < 0.05
    assert hook.dropped >= 14  # the backlog of 5 (plus the one in flight) is all that waits
    hook.close(timeout=0.1)


def test_run_posts_events_and_keeps_unknown_faces(server, tmp_path, monkeypatch, capsys):
    Receiver.failures_left = 0
    gallery = tmp_path / "g.npz"
    astronaut = REPO / "samples" / "astronaut.jpg"
    assert main(["enroll", "--quiet", "--gallery", str(gallery), "--person", "eileen", str(astronaut)]) == 0
    config = tmp_path / "config.yaml"
    config.write_text(
        f"source: {REPO / 'samples' / 'frames'}\ngallery: {gallery}\n"
        "match:\n  threshold: 0.999\n  track_threshold: 0.999\n"
        f"webhook:\n  url: {server}\n  token_env: SIAMFACE_TEST_TOKEN\n"
        f"snapshots:\n  folder: {tmp_path / 'unknown'}\n"
    )
    monkeypatch.setenv("SIAMFACE_TEST_TOKEN", "from-the-environment")
    capsys.readouterr()
    assert main(["run", "--config", str(config)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # One face in three of the frames, unknown at 0.999 (above what the bundled model scores it). How many
    # tracks it makes as it jumps across the picture depends on how alike the model finds it (1 with
    # the bundled model, 3 with the PCA one); every track enters once, leaves once, leaves one snapshot.
    enters = [e for e in printed if e["event"] == "enter"]
    assert 1 <= len(enters) <= 3
    assert sorted(e["event"] for e in printed) == ["enter"] * len(enters) + ["leave"] * len(enters)
    assert {e["name"] for e in printed} == {"unknown"}
    assert [body for body, _ in Receiver.received] == printed  # the same JSON, posted
    assert {auth for _, auth in Receiver.received} == {"Bearer from-the-environment"}
    shots = list((tmp_path / "unknown").glob("*.jpg"))
    assert len(shots) == len(enters) and all(shot.stat().st_size > 1000 for shot in shots)
    assert "from-the-environment" not in config.read_text()


def test_missing_secret_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SIAMFACE_NO_SUCH_TOKEN", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text("webhook:\n  url: http://127.0.0.1:9/x\n  token_env: SIAMFACE_NO_SUCH_TOKEN\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "webhook.token_env='SIAMFACE_NO_SUCH_TOKEN': environment variable SIAMFACE_NO_SUCH_TOKEN is not set" in (
        capsys.readouterr().err
    )
    config.write_text("webhook:\n  url: ftp://example/x\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "webhook.url='ftp://example/x', expected an http:// or https:// URL" in capsys.readouterr().err


def test_snapshots_are_capped_in_number_and_age(tmp_path):
    import numpy as np

    folder = tmp_path / "shots"
    shots = Snapshots(folder, max_files=3, max_age_days=1)
    frame = np.full((200, 200, 3), 128, np.uint8)
    old = folder / "old.jpg"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    paths = [shots.save(Snapshots.crop(frame, (50, 50, 80, 80)), f"track{i}") for i in range(5)]
    kept = sorted(folder.glob("*.jpg"))
    assert len(kept) == 3 and not old.exists()
    assert set(kept) == set(paths[-3:])  # the newest are kept
