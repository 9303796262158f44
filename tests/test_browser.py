"""The page in a real browser: Debian's Chromium, driven by Playwright's Python client (no browser
download: the system's). The live view changes as the camera's picture does, and a visitor from a
real clip is named on the page and announced by name on the next run."""

import shutil
import threading
import time
from pathlib import Path

import pytest

from .conftest import REPO
from .mjpeg_server import MjpegServer
from .page import Page, clip_without_liz, run_events, who, write_config

pytest.importorskip("bottle", reason="the page needs the [web] extra")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the [browser] extra")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def camera():
    """A network camera showing the public-domain sample frames in turn, as a person moves."""
    paths = sorted((REPO / "samples" / "frames").glob("*.jpg"))
    frames = [p.read_bytes() for p in paths]
    stream = MjpegServer(paths[0], fps=10)
    stop = threading.Event()

    def turn() -> None:
        shown = 0
        while not stop.wait(0.2):
            shown = (shown + 1) % len(frames)
            stream.frame = frames[shown]

    threading.Thread(target=turn, daemon=True).start()
    yield stream.url
    stop.set()
    stream.close()


def test_the_live_view_shows_the_camera_and_changes_with_it(browser, camera, tmp_path):
    config = write_config(tmp_path, camera, {"eileen_collins": [str(REPO / "samples" / "astronaut.jpg")]})
    with Page(config) as page:
        tab = browser.new_page()
        tab.goto(f"{page.url}/live")
        # Polled from here: wait_for_function evaluates a string in the page, which its CSP forbids.
        deadline = time.monotonic() + 15
        while not tab.locator("#live").evaluate("img => img.complete && img.naturalWidth > 0"):
            assert time.monotonic() < deadline, "the live image never loaded"
            time.sleep(0.1)
        first = tab.locator("#live").screenshot()
        tab.locator("#tracks td", has_text="eileen_collins").wait_for(timeout=15000)
        deadline = time.monotonic() + 15
        while tab.locator("#live").screenshot() == first:
            assert time.monotonic() < deadline, "the live image did not change"
            time.sleep(0.2)
        tab.close()
        assert page.stop() == 0


def test_a_visitor_from_a_clip_is_named_on_the_page_and_announced_next_run(browser, tmp_path):
    config = clip_without_liz(tmp_path)
    with Page(config) as page:
        page.wait_for_end_of_source()
        before = page.events()
        tab = browser.new_page()
        tab.goto(f"{page.url}/visitors")
        card = tab.locator("#v1")
        crops = card.locator("img")
        assert crops.count() >= 2
        for i in range(crops.count()):  # every crop really loads as a picture
            assert crops.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
        card.locator("input[name=name]").fill("liz")
        card.locator("button", has_text="Enrol").click()
        assert "v1 is now liz" in tab.locator("#message").inner_text()
        tab.goto(f"{page.url}/people")
        assert tab.locator(".person", has_text="liz").locator("img").count() >= 1
        tab.close()
        page.wait_for_log("gallery changed on the page")
        assert page.stop() == 0
    after = run_events(config)
    assert [e["event"] for e in after if e["name"] == "liz"] == ["enter", "leave"], after
    assert who([e for e in after if e["name"] != "liz"]) == who([e for e in before if e["name"] != "unknown"])
