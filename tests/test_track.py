"""Per-person events on a synthetic sequence made from real photos moved across a background."""

import json

import cv2
import numpy as np
import pytest

from siamface.edge import gallery as gallery_io
from siamface.edge.config import parse
from siamface.edge.enroll import enroll
from siamface.edge.images import read_image
from siamface.edge.loop.detect import HaarDetector
from siamface.edge.loop.embed import Embedder
from siamface.edge.loop.quality import sharpness
from siamface.edge.loop.track import Tracker
from siamface.edge.runner import Runner, load_runtime, track_frame

from .conftest import one_face_photos

pytestmark = pytest.mark.arm64


def face_tile(path, size=200, blur=0.0):
    tile = cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(tile, (0, 0), blur) if blur else tile


def frame_with(*placed):
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(110, 12, (480, 640, 3)), 0, 255).astype(np.uint8)
    for tile, x, y in placed:
        frame[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return frame


class Sequence:
    """In-memory frames; each read moves a fake clock on by 0.1 s, as a 10 fps camera would."""

    def __init__(self, frames, clock):
        self.name = "synthetic"
        self.frames = iter(frames)
        self.clock = clock
        self.time = clock[0]
        self.stills = False

    def read(self):
        self.clock[0] += 0.1
        self.time = self.clock[0]
        return next(self.frames, None)

    def close(self):
        pass


@pytest.fixture(scope="module")
def people(dev_people, tmp_path_factory):
    root, names = dev_people
    detector = HaarDetector()
    # Photos whose tile gives exactly one detection wherever it stands: the test is about events,
    # not about the detector's false positives (some photos have a second "face" on the neck).
    clean = [
        path
        for path in (one_face_photos(root, n)[0] for n in names[:30])
        if all(len(detector.detect(frame_with((face_tile(path), x, y)))) == 1 for x, y in ((20, 100), (300, 150)))
    ]
    assert len(clean) >= 2
    alice, bob = clean[0], clean[1]
    stranger = None
    for name in names[10:40]:  # a stranger whose blurred face is still detected but fails the sharpness gate
        tile = face_tile(one_face_photos(root, name)[0], blur=4.0)
        boxes = detector.detect(tile)
        if len(boxes) == 1 and sharpness(tile, boxes[0]) < 60:
            stranger = tile
            break
    assert stranger is not None
    gallery, _ = enroll(None, {"alice": [alice], "bob": [bob]}, detector, Embedder(), progress=False)
    path = tmp_path_factory.mktemp("track") / "gallery.npz"
    gallery_io.save(gallery, path)
    return path, face_tile(alice), face_tile(bob), stranger


def test_one_enter_and_one_leave_per_person_and_none_for_blurred_faces(people, monkeypatch, capsys):
    gallery, alice, bob, stranger = people
    frames = [frame_with((alice, 20 + 20 * i, 100)) for i in range(10)]  # alice walks across
    frames += [frame_with() for _ in range(6)]  # nobody: alice's track ends after leave_after
    frames += [frame_with((bob, 40 + 15 * i, 150), (stranger, 420, 40)) for i in range(10)]  # bob, and a blur
    clock = [0.0]
    monkeypatch.setattr(
        "siamface.edge.runner.open_source", lambda spec, base_dir=None, waiting=None: Sequence(frames, clock)
    )
    config = parse(
        {
            "source": "synthetic",
            "gallery": str(gallery),
            "match": {"threshold": 0.5},
            "tracking": {"leave_after": 0.35},
        },
        None,
    )
    capsys.readouterr()
    assert Runner(lambda: config, clock=lambda: clock[0]).run() == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = [(e["event"], e["name"]) for e in events]
    assert summary == [("enter", "alice"), ("leave", "alice"), ("enter", "bob"), ("leave", "bob")], summary
    alice_leave = next(e for e in events if e["event"] == "leave" and e["name"] == "alice")
    assert 10 <= alice_leave["frame"] <= 15  # while the empty frames played
    assert len({e["track"] for e in events}) == 2  # the blurred stranger was tracked but never voted


def test_cooldown_stops_a_second_enter_and_one_photo_names_every_face(people, monkeypatch, capsys):
    gallery, alice, bob, _ = people
    frames = [frame_with((alice, 100, 100)) for _ in range(5)] + [frame_with() for _ in range(5)]
    frames += [frame_with((alice, 300, 100)) for _ in range(5)]  # alice comes back within the cool-down
    clock = [0.0]
    monkeypatch.setattr(
        "siamface.edge.runner.open_source", lambda spec, base_dir=None, waiting=None: Sequence(frames, clock)
    )
    config = parse(
        {"source": "synthetic", "gallery": str(gallery), "tracking": {"leave_after": 0.25, "cooldown": 30}}, None
    )
    capsys.readouterr()
    Runner(lambda: config, clock=lambda: clock[0]).run()
    summary = [(e["event"], e["name"]) for e in map(json.loads, capsys.readouterr().out.splitlines())]
    assert summary == [("enter", "alice"), ("leave", "alice")]

    # One photo: every face is decided on the single frame it has, when the source ends.
    frames = [frame_with((alice, 40, 100), (bob, 360, 100))]
    monkeypatch.setattr(
        "siamface.edge.runner.open_source", lambda spec, base_dir=None, waiting=None: Sequence(frames, clock)
    )
    Runner(lambda: config, clock=lambda: clock[0]).run()
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((e["event"], e["name"]) for e in events) == [
        ("enter", "alice"),
        ("enter", "bob"),
        ("leave", "alice"),
        ("leave", "bob"),
    ]


def test_a_reload_applies_the_new_tracking_rules_to_tracks_already_open(people, monkeypatch, capsys):
    gallery, _, bob, _ = people
    frames = [frame_with((bob, 100, 100)) for _ in range(30)]  # 3 s in front of the camera
    clock = [0.0]
    runner = None

    class ReloadingSequence(Sequence):
        def read(self):
            if abs(self.clock[0] - 1.0) < 1e-6:  # one second in: the operator reloads
                runner.request_reload()
            return super().read()

    monkeypatch.setattr(
        "siamface.edge.runner.open_source", lambda spec, base_dir=None, waiting=None: ReloadingSequence(frames, clock)
    )
    # At a threshold nobody reaches bob stays unknown, announced after unknown_after seconds of his frames.
    body = {"source": "synthetic", "gallery": str(gallery), "match": {"threshold": 0.999, "track_threshold": 0.999}}
    configs = iter(
        [
            parse({**body, "tracking": {"unknown_after": 60}}, None),
            parse({**body, "tracking": {"unknown_after": 0.5}}, None),
        ]
    )
    runner = Runner(lambda: next(configs), clock=lambda: clock[0])
    capsys.readouterr()
    assert runner.run() == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["event"], e["name"]) for e in events] == [("enter", "unknown"), ("leave", "unknown")]
    # Announced while bob was still there, by the reloaded rule; the old one would have waited for the end.
    assert events[0]["frame"] < 20


def test_a_named_face_standing_still_is_embedded_every_third_frame_and_votes_only_then(people):
    """settle.py: once alice's track is named and she stands still, her face keeps its embedding on
    two frames of three, and those frames add nothing to her template; bob, walking, and every
    face before its track is named are embedded on every frame. Names come as without it."""
    gallery, alice, bob, _ = people
    runtime = load_runtime(parse({"source": "synthetic", "gallery": str(gallery), "match": {"threshold": 0.5}}, None))
    tracker = Tracker(runtime.pipeline.matcher, runtime.config.tracking)
    alice_fresh, bob_fresh, named_at = [], [], {}
    for i in range(12):
        result, events = track_frame(runtime, tracker, frame_with((alice, 40, 100), (bob, 240 + 15 * i, 150)), i / 10)
        assert len(result.boxes) == 2
        order = np.argsort(result.boxes[:, 0])  # alice stands left of bob
        alice_fresh.append(bool(result.fresh[order[0]]))
        bob_fresh.append(bool(result.fresh[order[1]]))
        named_at.update({e.name: i for e in events if e.kind == "enter"})
    assert named_at == {"alice": 2, "bob": 2}  # min_frames: the third frame, as every frame were embedded
    assert alice_fresh == [True] * 3 + [False, False, True] * 3
    assert all(bob_fresh)
    alice_track = next(t for t in tracker.tracks if t.name == "alice")
    assert alice_track.usable == sum(alice_fresh)
