"""The page on the device, over plain HTTP against a real `face-edge run --web` on real video: a
visitor named on the page is announced by name on the next run and nobody else changes; strangers
who come back keep their visitor id; every change needs the CSRF token, and off 127.0.0.1 a token."""

import json
import subprocess
import sys

import numpy as np
import pytest

from siamface.edge import config as config_io
from siamface.edge import gallery as gallery_io
from siamface.edge.errors import SiamfaceError
from siamface.edge.gallery import LearnedRecord
from siamface.edge.images import read_image
from siamface.edge.loop.detect import make_detector, photo_faces, portrait_face
from siamface.edge.loop.embed import Embedder

from .conftest import REPO
from .page import Page, clip_without_liz, csrf_of, request, run_events, who, write_config

pytest.importorskip("bottle", reason="the page needs the [web] extra (pip install -e '.[dev]')")
SAMPLES = str(REPO / "samples" / "frames")
EILEEN = {"eileen_collins": [str(REPO / "samples" / "astronaut.jpg")]}
# Every route that changes something (the page has no others that take a POST).
CHANGES = ["/visitors/v1/name", "/visitors/v1/forget", "/events/1/wrong", "/people/remove", "/login"]


def test_a_visitor_named_on_the_page_is_announced_next_run_and_nobody_else_changes(tmp_path):
    config = clip_without_liz(tmp_path)
    with Page(config) as page:
        page.wait_for_end_of_source()
        first = page.events()
        strangers = [e for e in first if e["name"] == "unknown"]
        assert strangers and all(e["visitor"] == "v1" for e in strangers), first  # Liz, one visitor
        status, html, _ = request(f"{page.url}/visitors")
        assert status == 200 and 'id="v1"' in html
        crops = [c for c in html.split('src="/crop/')[1:]]
        assert len(crops) >= 2  # her face at several sizes, as she walked up
        crop_status, _, headers = request(f"{page.url}/crop/{crops[0].split(chr(34))[0]}")
        assert crop_status == 200 and headers["Content-Type"] == "image/jpeg"
        status, html, _ = request(f"{page.url}/visitors/v1/name", {"csrf": csrf_of(html), "name": "liz"})
        assert status == 200 and "v1 is now liz" in html, html
        page.wait_for_log("gallery changed on the page: 5 people enrolled")  # taken by the loop, no restart
        assert page.stop() == 0
    second = run_events(config)
    named = [e for e in second if e["name"] == "liz"]
    assert [e["event"] for e in named] == ["enter", "leave"], second
    others = [e for e in first if e["name"] != "unknown"]
    assert who([e for e in second if e["name"] != "liz"]) == who(others)  # freda, atinkum, prince as before
    assert "musah" not in {e["name"] for e in second}


def test_a_stranger_who_comes_back_keeps_their_visitor_id(tmp_path):
    config = write_config(tmp_path, SAMPLES, {"nobody": [str(REPO / "samples" / "astronaut.jpg")]})
    # Enrolled under another name and then removed: the gallery exists, Eileen is a stranger.
    gallery = gallery_io.load(tmp_path / "gallery.npz")
    gallery.people = {}
    gallery_io.save(gallery, tmp_path / "gallery.npz")
    visits = []
    for _ in range(2):
        with Page(config) as page:
            page.wait_for_end_of_source()
            visits.append({e.get("visitor") for e in page.events()})
            _, html, _ = request(f"{page.url}/visitors")
            page.stop()
    assert visits == [{"v1"}, {"v1"}]
    assert "<b>v1</b> · 2 visits" in html
    header = json.loads(bytes(np.load(tmp_path / "state" / "visitors.npz")["header"]).decode())
    assert [(v["id"], v["visits"]) for v in header["visitors"]] == [("v1", 2)]
    crops = {c for _, c in header["visitors"][0]["crops"]}
    assert crops and crops <= {p.stem for p in (tmp_path / "state" / "crops").glob("*.jpg")}

    # Forgotten on the page: the visitor and their crops are gone.
    with Page(config) as page:
        page.wait_for_end_of_source()
        _, html, _ = request(f"{page.url}/visitors")
        status, body, _ = request(f"{page.url}/visitors/v1/forget", {"csrf": csrf_of(html)})
        assert status == 200 and "v1 forgotten" in body, body
        page.stop()
    header = json.loads(bytes(np.load(tmp_path / "state" / "visitors.npz")["header"]).decode())
    assert header["visitors"] == []
    assert not crops & {p.stem for p in (tmp_path / "state" / "crops").glob("*.jpg")}


def test_every_change_needs_the_csrf_token_and_the_right_host(tmp_path):
    config = write_config(tmp_path, SAMPLES, EILEEN)
    with Page(config) as page:
        page.wait_for_end_of_source()
        _, html, _ = request(f"{page.url}/people")
        assert "eileen_collins" in html
        for route in CHANGES:
            for form in ({"name": "eileen_collins"}, {"name": "eileen_collins", "csrf": "0" * 64}):
                status, body, _ = request(page.url + route, form)
                assert status == 403 and "CSRF" in body, route
        # Another site reaching 127.0.0.1 through a DNS name of its own (DNS rebinding) is refused.
        status, _, _ = request(f"{page.url}/people", headers={"Host": "evil.example:80"})
        assert status == 403
        for bad in ("/crop/..%2F..%2Fgallery", "/static/..%2Fserver.py", "/photo/gallery"):
            assert request(page.url + bad)[0] == 404, bad
        status, body, _ = request(f"{page.url}/people/remove", {"name": "eileen_collins", "csrf": csrf_of(html)})
        assert status == 200 and "eileen_collins removed" in body
        page.stop()
    assert gallery_io.load(tmp_path / "gallery.npz").names() == []


def test_off_loopback_the_page_needs_a_token_and_refuses_to_start_without_one(tmp_path, monkeypatch):
    with pytest.raises(SiamfaceError, match=r"web\.listen 0\.0\.0\.0:8080 is reachable from other machines"):
        config_io.parse({"web": {"listen": "0.0.0.0:8080"}}, tmp_path / "config.yaml")
    with pytest.raises(SiamfaceError, match=r"web\.listen.*expected HOST:PORT"):
        config_io.parse({"web": {"listen": "8080"}}, tmp_path / "config.yaml")
    config = write_config(tmp_path, SAMPLES, EILEEN)
    refused = subprocess.run(
        [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config), "--web", "0.0.0.0:8080"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "--web 0.0.0.0:8080 is reachable from other machines" in refused.stderr
    monkeypatch.setenv("PAGE_TOKEN", "s3cret-token")  # the environment the service would have
    config = write_config(tmp_path, SAMPLES, EILEEN, web={"token_env": "PAGE_TOKEN"})
    with Page(config, host="0.0.0.0") as page:
        page.wait_for_end_of_source()
        status, _, headers = request(f"{page.url}/people")
        assert status == 303 and headers["Location"].endswith("/login")
        assert request(f"{page.url}/live.jpg")[0] == 401
        _, login, _ = request(f"{page.url}/login")
        csrf = csrf_of(login)
        # Signed out, a change with the right CSRF token is still refused.
        for route in CHANGES[:-1]:
            assert request(page.url + route, {"name": "eileen_collins", "csrf": csrf})[0] == 401, route
        assert request(f"{page.url}/login", {"token": "wrong", "csrf": csrf})[0] == 401
        status, _, headers = request(f"{page.url}/login", {"token": "s3cret-token", "csrf": csrf})
        assert status == 303
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "samesite=strict" in headers["Set-Cookie"].lower()
        assert request(f"{page.url}/people", headers={"Cookie": cookie})[0] == 200
        assert request(f"{page.url}/live.jpg", headers={"Authorization": "Bearer s3cret-token"})[0] == 200
        assert request(f"{page.url}/live.jpg", headers={"Authorization": "Bearer s3cret-tokeX"})[0] == 401
        page.stop()


def test_wrong_removes_the_learned_templates_that_named_a_track_and_records_it(tmp_path):
    """Eileen's learned template is what names her track; Wrong on her enter event removes it (the
    enrolled photo stays) and turns the face into a visitor to be named."""
    config = write_config(tmp_path, SAMPLES, EILEEN)
    with Page(config) as page:
        page.wait_for_end_of_source()
        page.stop()
    # Learn from her frames as the device would: her track's template joins as a learned template.
    gallery = gallery_io.load(tmp_path / "gallery.npz")
    embedder, detector = Embedder(), make_detector(config_io.load(config).detector)
    frame = read_image(REPO / "samples" / "frames" / "frame_03.jpg")
    box = portrait_face(photo_faces(detector, frame))
    learned = embedder.embed_faces(frame, box[None])[0]
    gallery.learned["eileen_collins"] = [LearnedRecord("2026-12-01T00:00:00+00:00", "door", 1, 0.99, learned)]
    gallery_io.save(gallery, tmp_path / "gallery.npz")
    with Page(config) as page:
        page.wait_for_end_of_source()
        _, html, _ = request(f"{page.url}/events")
        assert "Wrong" in html
        event_id = html.split('action="/events/')[1].split("/")[0]
        status, body, _ = request(f"{page.url}/events/{event_id}/wrong", {"csrf": csrf_of(html)})
        assert status == 200 and "1 learned template(s) of eileen_collins removed" in body, body
        assert "visitor v" in body
        page.stop()
    after = gallery_io.load(tmp_path / "gallery.npz")
    assert after.learned.get("eileen_collins", []) == [] and len(after.people["eileen_collins"]) == 1
    record = json.loads((tmp_path / "state" / "corrections.jsonl").read_text().splitlines()[-1])
    assert record["named"] == "eileen_collins" and record["learned_removed"] == 1


def test_a_port_in_use_is_one_line_and_nothing_is_left_running(tmp_path):
    import socket

    config = write_config(tmp_path, SAMPLES, EILEEN)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config), "--web", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f"face-edge: error: web.listen 127.0.0.1:{port}: cannot listen there (Address already in use)"
    )


def test_the_checks_above_cover_every_route_that_takes_a_post(tmp_path):
    from siamface.edge.outputs.snapshots import Snapshots
    from siamface.edge.web.board import Board
    from siamface.edge.web.server import PageServer
    from siamface.edge.web.visitors import Visitors

    from .page import free_port

    config = config_io.parse({"web": {"listen": f"127.0.0.1:{free_port()}", "state_dir": str(tmp_path)}}, None)
    server = PageServer(config, None, Board(), Visitors(tmp_path / "v.npz", 0.9), Snapshots(tmp_path, 10, 1))
    try:
        posted = sorted(route.rule for route in server.app.routes if route.method == "POST")
    finally:
        server.close()
    rule = {"/visitors/v1/": "/visitors/<visitor_id>/", "/events/1/": "/events/<event_id:int>/"}
    checked = []
    for route in CHANGES:
        for concrete, pattern in rule.items():
            route = route.replace(concrete, pattern)
        checked.append(route)
    assert posted == sorted(checked)
