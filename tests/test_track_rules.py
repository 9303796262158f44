"""The tracker's rules on hand-made embeddings: no face data needed, every score known exactly.

Directions in an 8-dimensional space stand for people; a face "of alice at 0.93" is a unit vector
whose cosine with alice's enrolled embedding is 0.93. Frames come 10 a second.
"""

from dataclasses import replace

import numpy as np
import pytest

from siamface.edge.gallery import Gallery, PhotoRecord
from siamface.edge.loop.match import Matcher
from siamface.edge.loop.track import Tracker, TrackSettings

pytestmark = pytest.mark.arm64

DIM = 8
AXES = np.eye(DIM, dtype=np.float32)
ALICE, BOB = AXES[0], AXES[1]
# Scores on the hand-made embeddings' own scale (a model's come with the model).
SETTINGS = TrackSettings(
    threshold=0.95,
    margin=0.02,
    stranger_threshold=0.96,
    jump_similarity=0.95,
    min_frames=3,
    unknown_after=1.0,
    leave_after=1.0,
    cooldown=30,
)
BOX = np.array([[100, 100, 80, 80]])


def toward(person: np.ndarray, cosine: float, away: int = 7) -> np.ndarray:
    """A unit vector with this cosine to ``person``, the rest along an axis nobody is enrolled on."""
    return (cosine * person + np.sqrt(1 - cosine**2) * AXES[away]).astype(np.float32)


def tracker(people: dict[str, np.ndarray], settings: TrackSettings = SETTINGS) -> Tracker:
    gallery = Gallery("test", 2, DIM, {n: [PhotoRecord(n, "", "", v)] for n, v in people.items()})
    return Tracker(Matcher(gallery, settings.threshold, settings.margin), settings)


def play(track: Tracker, faces: list[np.ndarray | None], start: float = 0.0, fps: float = 10.0):
    """(time, kind, name, track, previous) of every event; None is a frame with nobody in it."""
    events = []
    for i, face in enumerate(faces):
        now = start + i / fps
        if face is None:
            new = track.update(now, np.zeros((0, 4)), np.zeros((0, DIM)), [])
        else:
            new = track.update(now, BOX, face[None], [1.0])
        events += [(round(now, 2), e.kind, e.name, e.track, e.previous) for e in new]
    return events


def test_a_clear_face_is_named_after_min_frames_and_never_called_unknown():
    events = play(tracker({"alice": ALICE, "bob": BOB}), [toward(ALICE, 0.99)] * 10 + [None] * 12)
    assert [(t, k, n) for t, k, n, _, _ in events] == [(0.2, "enter", "alice"), (2.0, "leave", "alice")]


def test_unknown_is_announced_late_and_upgraded_when_the_evidence_comes():
    """A person first seen far and blurred (0.93, under the threshold) is announced unknown only after
    unknown_after seconds; when they come close the same track is identified, and leaves named."""
    faces = [toward(ALICE, 0.93)] * 15 + [toward(ALICE, 0.995)] * 15 + [None] * 12
    events = play(tracker({"alice": ALICE, "bob": BOB}), faces)
    kinds = [(k, n, p) for _, k, n, _, p in events]
    assert kinds == [("enter", "unknown", None), ("identified", "alice", "unknown"), ("leave", "alice", None)]
    assert events[0][0] == pytest.approx(1.0)  # unknown_after seconds after the first usable frame
    assert 1.5 < events[1][0] < 2.0  # named within a few close frames, not after a fresh vote
    assert len({track for _, _, _, track, _ in events}) == 1


def test_a_name_found_before_unknown_after_gives_one_enter_and_no_unknown():
    faces = [toward(ALICE, 0.93)] * 5 + [toward(ALICE, 0.995)] * 10 + [None] * 12
    events = play(tracker({"alice": ALICE, "bob": BOB}), faces)
    assert [(k, n) for _, k, n, _, _ in events] == [("enter", "alice"), ("leave", "alice")]


def test_a_strangers_track_is_never_identified_not_even_a_lookalike():
    """A stranger scoring 0.93 against bob in every frame (the distractor case) stays unknown."""
    events = play(tracker({"alice": ALICE, "bob": BOB}), [toward(BOB, 0.93)] * 40 + [None] * 12)
    assert [(k, n) for _, k, n, _, _ in events] == [("enter", "unknown"), ("leave", "unknown")]


def test_close_rivals_are_not_named_on_a_template_that_cannot_tell_them_apart():
    twin = (0.985 * ALICE + np.sqrt(1 - 0.985**2) * BOB).astype(np.float32)  # cosine 0.985 to alice
    face = (ALICE + twin) / np.linalg.norm(ALICE + twin)  # as close to both: under match.margin apart
    events = play(tracker({"alice": ALICE, "twin": twin}), [face] * 20 + [None] * 12)
    assert [(k, n) for _, k, n, _, _ in events] == [("enter", "unknown"), ("leave", "unknown")]


def test_a_track_that_turns_into_someone_else_is_split():
    """The tracker followed alice onto bob, who looks alike enough to be linked (0.95): once the latest
    frames confidently name bob, alice's track ends and bob gets a track of his own."""
    bob = (0.95 * ALICE + np.sqrt(1 - 0.95**2) * BOB).astype(np.float32)
    faces = [ALICE] * 10 + [bob] * 10 + [None] * 12
    events = play(tracker({"alice": ALICE, "bob": bob}), faces)
    assert [(k, n) for _, k, n, _, _ in events] == [
        ("enter", "alice"),
        ("leave", "alice"),
        ("enter", "bob"),
        ("leave", "bob"),
    ]
    assert events[1][0] == events[2][0] < 2.0  # split at once, while both were in view
    assert events[0][3] != events[2][3]


def test_an_ending_source_closes_every_track_but_a_videos_last_glimpse_stays_a_glimpse():
    track = tracker({"alice": ALICE, "bob": BOB})
    play(track, [toward(ALICE, 0.99)] * 5)
    # A second face appears for the last two frames only: too little to announce from a video.
    for now in (0.5, 0.6):
        track.update(now, np.r_[BOX, [[300, 100, 80, 80]]], np.stack([ALICE, toward(BOB, 0.2)]), [1.0, 1.0])
    events = track.close(0.7)
    assert [(e.kind, e.name) for e in events] == [("leave", "alice")]


def test_a_photo_is_a_whole_source_one_frame_decides():
    track = tracker({"alice": ALICE, "bob": BOB})
    track.update(0.0, np.r_[BOX, [[300, 100, 80, 80]]], np.stack([toward(ALICE, 0.99), toward(BOB, 0.5)]), [1, 1])
    events = sorted((e.kind, e.name) for e in track.close(0.0))
    assert events == [("enter", "alice"), ("enter", "unknown"), ("leave", "alice"), ("leave", "unknown")]


def test_the_template_is_the_weighted_mean_of_the_usable_frames():
    far, near = toward(ALICE, 0.96), toward(ALICE, 0.99, away=6)
    track = tracker({"alice": ALICE})
    track.update(0.0, BOX, far[None], [0.25])
    track.update(0.1, BOX, near[None], [1.0])
    track.update(0.2, BOX, ALICE[None], [0.0])  # too poor to count
    expected = (0.25 * far + near) / np.linalg.norm(0.25 * far + near)
    assert len(track.tracks) == 1 and track.tracks[0].usable == 2
    assert np.allclose(track.tracks[0].template, expected)


def test_frames_too_poor_to_count_never_name_or_announce():
    events = []
    track = tracker({"alice": ALICE})
    for i in range(30):
        events += track.update(i / 10, BOX, ALICE[None], [0.0])
    assert events == [] and track.close(3.0) == []


def test_a_stranger_lost_and_found_again_is_announced_once_another_stranger_is_not():
    """The detector loses a stranger for longer than leave_after; when they are found again the new
    track's template matches the old one's (match.stranger_threshold): no second unknown. A different
    stranger, after the same gap, is announced."""
    stranger, other = toward(BOB, 0.5, away=5), toward(BOB, 0.5, away=6)  # 0.75 alike: two people
    faces = [stranger] * 15 + [None] * 15 + [stranger] * 15 + [None] * 15 + [other] * 15 + [None] * 15
    events = play(tracker({"alice": ALICE, "bob": BOB}), faces)
    assert [(k, n) for _, k, n, _, _ in events] == [
        ("enter", "unknown"),
        ("leave", "unknown"),
        ("enter", "unknown"),  # the other stranger
        ("leave", "unknown"),
    ]
    assert events[2][0] > 4.5  # not the first stranger's return at 3.0 s


def lost_face(profile: np.ndarray, seconds: float, settings: TrackSettings = SETTINGS):
    """Alice's face for 1 s, then none for ``seconds`` while a profile that embeds as ``profile`` is
    found near her track each frame: (events, her track or None, its template after her face)."""
    track = tracker({"alice": ALICE, "bob": BOB}, settings)
    events = []
    for i in range(10):
        events += track.update(i / 10, BOX, toward(ALICE, 0.99)[None], [1.0])
    template = track.tracks[0].template.copy()

    def turned(box):
        return (box[0] + 4, box[1], box[2], box[3]), profile  # the head moves a little while turned

    for i in range(10, 10 + round(seconds * 10)):
        events += track.update(i / 10, np.zeros((0, 4)), np.zeros((0, DIM)), [], turned)
    return [(e.kind, e.name) for e in events], (track.tracks[0] if track.tracks else None), template


def test_a_turned_head_keeps_an_announced_track_alive_without_a_vote():
    events, alice, template = lost_face(toward(ALICE, 0.97), 3.0)
    assert events == [("enter", "alice")]  # 3 s without her face, longer than leave_after: no leave
    assert alice is not None and alice.usable == 10 and np.array_equal(alice.template, template)
    assert alice.box[0] == BOX[0, 0] + 4 * 30  # the track follows the profile, frame by frame


def test_a_profile_of_someone_else_keeps_nothing():
    """After a cut, or when someone steps into the spot, the profile near the track is another person."""
    events, alice, _ = lost_face(toward(BOB, 0.97), 3.0)
    assert events == [("enter", "alice"), ("leave", "alice")] and alice is None


def test_a_turned_head_is_followed_for_turned_for_seconds_at_most():
    events, alice, _ = lost_face(toward(ALICE, 0.97), 4.0, replace(SETTINGS, turned_for=1.5))
    assert events == [("enter", "alice"), ("leave", "alice")] and alice is None
