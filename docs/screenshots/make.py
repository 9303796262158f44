"""The README's screenshots of the page, made on the public-domain sample frames only (NASA's
photo of Eileen Collins, samples/README.md), never on the people of ../shared/data.

    python docs/screenshots/make.py     # needs the [web,browser] extras and Debian's chromium

Eileen is first a stranger (a visitor), is named on the page, then recognised on the next run.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.mjpeg_server import MjpegServer  # noqa: E402 (the tests' network camera)

OUT = Path(__file__).resolve().parent


def start(config: Path, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config), "--web", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    while "the page stays up" not in log.read_text():
        if process.poll() is not None:
            sys.exit(f"face-edge run ended: {log.read_text()}")
        time.sleep(0.1)
    return process


def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = Path(tmp)
        config = yaml.safe_load((REPO / "config.yaml").read_text())
        config.update(source=str(REPO / "samples" / "frames"), gallery=str(folder / "gallery.npz"), camera="door")
        config["people"] = {"eileen_collins": [str(REPO / "samples" / "astronaut.jpg")]}
        config["web"]["state_dir"] = str(folder / "state")
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        cli = [sys.executable, "-m", "siamface.edge.cli"]
        subprocess.run([*cli, "enroll", "--config", str(path), "--quiet"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*cli, "gallery", "remove", "--config", str(path), "eileen_collins"], check=True)
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 900, "height": 560})

        process = start(path, port, folder / "log1.txt")
        tab.goto(f"{url}/visitors")
        tab.screenshot(path=OUT / "visitors.png")
        tab.locator("#v1 input[name=name]").fill("eileen_collins")
        tab.locator("#v1 button", has_text="Enrol").click()
        process.send_signal(signal.SIGTERM)
        process.wait()

        process = start(path, port, folder / "log2.txt")
        for page in ("events", "people"):
            tab.goto(f"{url}/{page}")
            tab.screenshot(path=OUT / f"{page}.png")
        process.send_signal(signal.SIGTERM)
        process.wait()

        # Live, from a camera: a network stream of the sample frames in turn.
        camera = MjpegServer(REPO / "samples" / "frames" / "frame_02.jpg", fps=10)
        config["source"] = camera.url
        path.write_text(yaml.safe_dump(config))
        log = folder / "log3.txt"
        process = subprocess.Popen(
            [*cli, "run", "--config", str(path), "--web", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        while "page on" not in log.read_text():
            time.sleep(0.1)
        tab.goto(f"{url}/live")
        tab.locator("#tracks td", has_text="eileen_collins").wait_for(timeout=20000)
        time.sleep(1)  # the picture of the named track
        tab.screenshot(path=OUT / "live.png")
        process.send_signal(signal.SIGTERM)
        process.wait()
        camera.close()
        browser.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
