"""The gallery learns from the camera (learn.py): on real dev faces, embedded by the bundled model."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from siamface.edge import gallery as gallery_io
from siamface.edge.config import DEFAULT_MODEL, parse, with_model_scores
from siamface.edge.enroll import enroll
from siamface.edge.images import read_image
from siamface.edge.learn import Lesson, admit, forget, teach
from siamface.edge.loop.detect import make_detector
from siamface.edge.loop.embed import Embedder

from .conftest import identity_photos


@pytest.fixture(scope="module")
def faces(dev_people):
    """Six dev people, three of them enrolled from one photo each; every photo's embedding."""
    root, names = dev_people
    embedder, detector = Embedder(DEFAULT_MODEL), make_detector()
    people = names[:6]
    photos = {n: identity_photos(root, n)[:6] for n in people}
    gallery, _ = enroll(None, {n: photos[n][:1] for n in people[:3]}, detector, embedder, progress=False)
    embedded = {}
    for name in people:
        rows = []
        for path in photos[name][1:]:
            image = read_image(path)
            boxes = detector.detect(image)
            if len(boxes):
                rows.append(embedder.embed_faces(image, boxes[:1])[0])
        embedded[name] = np.stack(rows)
    scores = embedder.contract.scores
    settings = with_model_scores(parse({}, None), scores, DEFAULT_MODEL).learning
    return gallery, embedded, people, replace(settings, enabled=True), scores["threshold"], scores["margin"]


def lesson(name, embeddings, score=0.99, margin=0.2, frames=20, track=7):
    return Lesson(name, score, margin, frames, embeddings, "door", track)


def fresh(gallery):
    return replace(gallery, people=dict(gallery.people), learned={})


def test_a_persons_other_photos_join_as_learned_templates_with_where_and_when(faces):
    gallery, embedded, people, settings, threshold, margin = faces
    alice = people[0]
    g = fresh(gallery)
    mine = embedded[alice]
    # The photos that match her enrolled one at the naming threshold: those the loop would name.
    good = mine[[float(g.people[alice][0].embedding @ e) >= threshold for e in mine]]
    assert len(good) >= 2
    joined = admit(g, lesson(alice, good), settings, threshold, margin)
    assert joined == min(len(good), settings.per_track)
    record = g.learned[alice][0]
    assert record.camera == "door" and record.track == 7 and record.learned_at.endswith("+00:00")
    assert not g.learned.get(people[1])


def test_someone_else_named_as_her_never_joins_not_even_on_strong_track_evidence(faces):
    gallery, embedded, people, settings, threshold, margin = faces
    g = fresh(gallery)
    stranger = embedded[people[4]]  # not enrolled
    bob = embedded[people[1]]  # enrolled, another person
    assert admit(g, lesson(people[0], stranger), settings, threshold, margin) == 0
    assert admit(g, lesson(people[0], bob), settings, threshold, margin) == 0
    assert not g.learned.get(people[0])


def test_learned_templates_never_vouch_for_new_ones(faces):
    """No drift: a frame that matches only a learned template (not her photo) is refused, even when
    it is that very template."""
    gallery, embedded, people, settings, threshold, margin = faces
    g = fresh(gallery)
    weak = [(n, e) for n in people[:3] for e in embedded[n] if float(g.people[n][0].embedding @ e) < threshold]
    assert weak, "every photo of the enrolled people matches their one photo: no weak frame to try"
    name, frame = weak[0]
    g.learned[name] = [gallery_io.LearnedRecord("2026-01-01T00:00:00+00:00", "door", 1, 0.99, frame)]
    assert admit(g, lesson(name, frame[None]), replace(settings, duplicate=1.01), threshold, margin) == 0


def test_weak_evidence_teaches_nothing(faces):
    gallery, embedded, people, settings, threshold, margin = faces
    alice = people[0]
    good = embedded[alice][:1]
    for weak in (
        lesson(alice, good, frames=settings.min_frames - 1),
        lesson(alice, good, score=settings.min_score - 0.001),
        lesson(alice, good, margin=settings.min_margin - 0.001),
    ):
        g = fresh(gallery)
        assert admit(g, weak, settings, threshold, margin) == 0


def test_the_cap_keeps_the_most_diverse_templates(faces):
    gallery, embedded, people, settings, threshold, margin = faces
    alice = people[0]
    photo = gallery.people[alice][0].embedding
    good = [e for e in embedded[alice] if float(photo @ e) >= threshold]
    if len(good) < 3:
        pytest.skip("fewer than 3 photos of this person match her enrolled one")
    small = replace(settings, per_person=2, per_track=10)

    def redundancy(g):
        """Each learned template's likeness to the nearest other template of the person, summed."""
        t = np.stack([photo] + [r.embedding for r in g.learned[alice]])
        similar = t @ t.T
        np.fill_diagonal(similar, -np.inf)
        return float(similar.max(axis=1)[1:].sum())

    g = fresh(gallery)
    admit(g, lesson(alice, np.stack(good[:2])), small, threshold, margin)
    assert len(g.learned[alice]) == 2
    before = redundancy(g)
    for frame in good[2:]:
        admit(g, lesson(alice, frame[None]), small, threshold, margin)
        assert len(g.learned[alice]) == 2  # the cap holds
    assert redundancy(g) <= before  # a newcomer only ever replaces a more redundant template
    kept = np.stack([r.embedding for r in g.learned[alice]])
    assert admit(g, lesson(alice, kept[:1]), small, threshold, margin) == 0  # a duplicate adds nothing


def test_learned_templates_survive_re_enrolment_and_can_be_forgotten(faces, tmp_path):
    gallery, embedded, people, settings, threshold, margin = faces
    alice = people[0]
    path = tmp_path / "g.npz"
    g = fresh(gallery)
    admit(g, lesson(alice, embedded[alice][:3]), settings, threshold, margin)
    assert g.learned.get(alice)
    gallery_io.save(g, path)
    header = json.loads(bytes(np.load(path)["header"]).decode())
    assert header["format"] == 2 and alice in header["learned"]
    again, _ = enroll(gallery_io.load(path), {}, make_detector(), Embedder(DEFAULT_MODEL), progress=False)
    assert len(again.learned[alice]) == len(g.learned[alice])
    count = len(again.learned[alice])
    assert forget(again, alice, learned_only=True) == count and not again.learned[alice]
    assert alice in again.people
    gallery_io.save(again, path)
    assert json.loads(bytes(np.load(path)["header"]).decode())["format"] == 1  # readable by older runtimes


def test_teach_rereads_the_file_so_a_concurrent_enrolment_is_kept(faces, tmp_path):
    gallery, embedded, people, settings, threshold, margin = faces
    alice = people[0]
    path = tmp_path / "g.npz"
    gallery_io.save(fresh(gallery), path)
    # An enrolment lands after the loop loaded the gallery and before the track ended.
    photo = Path(gallery.people[people[2]][0].path)
    later, _ = enroll(gallery_io.load(path), {"newcomer": [photo]}, make_detector(), Embedder(DEFAULT_MODEL), False)
    gallery_io.save(later, path)
    model = (gallery.model_sha256, gallery.preprocess_version)
    _, joined = teach(path, [lesson(alice, embedded[alice][:3])], settings, threshold, margin, model)
    assert joined >= 1
    on_disk = gallery_io.load(path)
    assert "newcomer" in on_disk.people and len(on_disk.learned[alice]) == joined


def test_forget_since_keeps_what_was_learned_before(faces):
    gallery, embedded, people, *_ = faces
    alice = people[0]
    g = fresh(gallery)
    g.learned[alice] = [
        gallery_io.LearnedRecord(when, "door", i, 0.99, e)
        for i, (when, e) in enumerate(
            zip(("2026-12-01T10:00:00+00:00", "2026-12-02T10:00:00+00:00"), embedded[alice][:2])
        )
    ]
    assert forget(g, alice, learned_only=False, since="2026-12-02T00:00:00+00:00") == 1
    assert [r.learned_at for r in g.learned[alice]] == ["2026-12-01T10:00:00+00:00"]
    assert alice in g.people


def test_the_running_loop_learns_from_a_named_track_and_matches_with_it(dev_people, tmp_path, monkeypatch, capsys):
    """face-edge run with learning on: a person enrolled from one photo stands in front of the
    camera in another photo; when her track ends, the gallery file holds learned templates with
    the camera and track they came from. With learning off, the file is untouched."""
    from siamface.edge.runner import Runner

    from .test_track import Sequence, face_tile, frame_with

    root, names = dev_people
    embedder, detector = Embedder(DEFAULT_MODEL), make_detector()
    pair = None
    for name in names[:40]:  # two photos of one person alike enough to name, not so alike as to be one
        shots = []
        for path in identity_photos(root, name)[:6]:
            boxes = detector.detect(read_image(path))
            if len(boxes) == 1:
                shots.append((path, embedder.embed_faces(read_image(path), boxes)[0]))
        pair = next(((a, b) for a, ea in shots for b, eb in shots if a != b and 0.965 <= float(ea @ eb) <= 0.985), None)
        if pair:
            break
    assert pair, "no dev person with two photos scoring 0.965 to 0.985"
    enrolled, seen = pair
    for learning in (False, True):
        path = tmp_path / f"gallery-{learning}.npz"
        gallery, _ = enroll(None, {"alice": [enrolled]}, detector, embedder, progress=False)
        gallery_io.save(gallery, path)
        frames = [frame_with((face_tile(seen), 100 + 2 * i, 100)) for i in range(40)] + [frame_with()] * 5
        clock = [0.0]
        monkeypatch.setattr(
            "siamface.edge.runner.open_source",
            lambda spec, base_dir=None, waiting=None, frames=frames, clock=clock: Sequence(frames, clock),
        )
        config = parse(
            {
                "source": "synthetic",
                "camera": "hall",
                "gallery": str(path),
                "tracking": {"leave_after": 0.3},
                "learning": {"enabled": learning},
            },
            None,
        )
        capsys.readouterr()
        assert Runner(lambda config=config: config, clock=lambda clock=clock: clock[0]).run() == 0
        events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(e["event"], e["name"]) for e in events] == [("enter", "alice"), ("leave", "alice")]
        learned = gallery_io.load(path).learned.get("alice", [])
        if learning:
            assert learned and all(r.camera == "hall" and r.track == events[0]["track"] for r in learned)
        else:
            assert learned == []
