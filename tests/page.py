"""The page under test: `face-edge run --web` as a real process on 127.0.0.1, and plain HTTP to it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from .conftest import REPO, data_dir

CLIP = "musah_hallway_walkup"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(folder: Path, source: str, people: dict[str, list[str]], **sections) -> Path:
    """A config in ``folder`` reading ``source``, its gallery enrolled from ``people``, state in ``folder``."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(source=source, people=people, gallery=str(folder / "gallery.npz"))
    config["web"]["state_dir"] = str(folder / "state")
    for key, values in sections.items():
        config[key] = {**config.get(key, {}), **values}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "siamface.edge.cli", "enroll", "--config", str(path), "--quiet"], check=True)
    return path


def clip_without_liz(folder: Path) -> Path:
    """The hallway clip, everyone enrolled from their reference photos but Liz (she is the visitor)."""
    clip = data_dir("video", CLIP)
    people = {d.name: [str(p) for p in sorted(d.glob("*.jpg"))] for d in sorted((clip / "refs").iterdir())}
    del people["liz"]
    return write_config(folder, str(clip / "clip.mp4"), people)


class Page:
    """``face-edge run --config CONFIG --web 127.0.0.1:PORT`` until stopped (with the page on, a
    clip's end leaves the page up)."""

    def __init__(self, config: Path, *extra: str, env: dict | None = None, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.events_path = config.parent / f"events-{self.port}.jsonl"
        self.log_path = config.parent / f"log-{self.port}.txt"
        command = [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config)]
        command += ["--web", f"{host}:{self.port}", *extra]
        self.process = subprocess.Popen(
            command,
            stdout=self.events_path.open("w"),
            stderr=self.log_path.open("w"),
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 30
        while "page on" not in self.log():
            assert self.process.poll() is None, f"face-edge run ended: {self.log()}"
            assert time.monotonic() < deadline, f"the page did not start: {self.log()}"
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text()

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.events_path.read_text().splitlines()]

    def wait_for_log(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.process.poll() is None and time.monotonic() < deadline, f"no {text!r} in: {self.log()}"
            time.sleep(0.1)

    def wait_for_end_of_source(self) -> None:
        self.wait_for_log("the page stays up")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def request(url: str, form: dict | None = None, headers: dict | None = None) -> tuple[int, str, dict]:
    """(status, body, headers); redirects are not followed, so that a 303 to the sign-in page shows."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    data = urllib.parse.urlencode(form).encode() if form is not None else None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=30) as reply:
            return reply.status, reply.read().decode("utf-8", "replace"), dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace"), dict(error.headers)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def run_events(config: Path) -> list[dict]:
    """The events of one plain run (no page) of the config's source."""
    out = subprocess.run(
        [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def who(events: list[dict]) -> list[tuple[str, str, int]]:
    """(event, name, frame) of each event: what must not change for people a naming is not about."""
    return [(e["event"], e["name"], e["frame"]) for e in events]
