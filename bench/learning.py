"""Does the gallery learning from the camera name people more often, without naming strangers?

    python -m bench.learning [--members 30] [--strangers 30] [--seeds 5] [--frames 12] [--json FILE]

Dev people stand in for a household and its visitors: each member is enrolled from one photo;
their other photos, and the photos of as many strangers, arrive in random order, each as one track
of frame-like versions of the photo (smaller, blurred, compressed, the box off a little:
``edge/evaluation/degrade.py``) played through the device's tracker at 10 frames a second. With
learning on, each track that ends named teaches the gallery as the device's loop does
(``edge/learn.py``), and the next tracks are matched against what was learned. Per seed, the same
frames are played with learning off and on. Reported: the share of each member's last third of
tracks named rightly, the share of stranger tracks given a name, and members named as someone
else, mean and spread over the seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from siamface.edge.config import parse, with_model_scores
from siamface.edge.enroll import empty_gallery
from siamface.edge.evaluation.degrade import degrade
from siamface.edge.gallery import PhotoRecord
from siamface.edge.images import read_image
from siamface.edge.learn import admit, lesson_of
from siamface.edge.loop.detect import make_detector, photo_faces, portrait_face
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.match import UNKNOWN, Matcher
from siamface.edge.loop.quality import MIN_FACE, MIN_SHARPNESS, weights
from siamface.edge.loop.track import Tracker

from .frames import DATA

FPS = 10.0
BOX = np.array([[100, 100, 80, 80]])  # one place: each arrival is one track


@dataclass
class Arrival:
    person: str
    member: bool
    embeddings: np.ndarray  # (frames, D)
    weights: list[float]


def people(members: int, strangers: int, photos: int) -> tuple[dict[str, list], dict[str, list]]:
    """Dev people with at least ``photos`` + 1 photos: the first ``members`` are the household."""
    root = DATA / "dev" / "celeba"
    if not root.is_dir():
        raise SystemExit(f"benchmark data {root} not found: set SIAMFACE_DATA to the face data folder")
    chosen = [d for d in sorted(root.iterdir()) if d.is_dir() and len(list(d.glob("*.jpg"))) > photos]
    if len(chosen) < members + strangers:
        raise SystemExit(f"only {len(chosen)} dev people with more than {photos} photos")
    everyone = {d.name: sorted(d.glob("*.jpg")) for d in chosen[: members + strangers]}
    names = list(everyone)
    return {n: everyone[n] for n in names[:members]}, {n: everyone[n] for n in names[members:]}


def faces(photos: list, detector) -> list:
    """(image, box) of the photos in which one face stands out."""
    found = []
    for path in photos:
        image = read_image(path)
        box = portrait_face(photo_faces(detector, image))
        if box is not None:
            found.append((image, box))
    return found


def arrivals(household: dict, visitors: dict, embedder, frames: int, rng) -> list[Arrival]:
    """Each member's photos but the enrolled one, three of each stranger's, as tracks of degraded
    frames, in random order."""
    found = []
    for member, group in ((True, household), (False, visitors)):
        for name, photos in group.items():
            for image, box in photos[1:] if member else photos[:3]:
                rows, weighs = [], []
                for _ in range(frames):
                    frame, moved = degrade(image, box, rng)
                    weighs.append(weights(frame, moved[None], MIN_FACE, MIN_SHARPNESS)[0])
                    rows.append(embedder.embed_faces(frame, [moved])[0])
                found.append(Arrival(name, member, np.stack(rows), weighs))
    order = rng.permutation(len(found))
    return [found[i] for i in order]


def play(stream: list[Arrival], gallery, config, learn: bool) -> list[tuple[Arrival, str | None]]:
    """Each arrival through the tracker; the name its track was given (None: none, or unknown)."""
    gallery = replace(gallery, people=dict(gallery.people), learned={})
    matcher = Matcher(gallery, config.threshold, config.margin)
    tracker = Tracker(matcher, config.tracking)
    now, results = 0.0, []
    for arrival in stream:
        named = None
        for embedding, weight in zip(arrival.embeddings, arrival.weights):
            events = tracker.update(now, BOX, embedding[None], [weight])
            named = next((e.name for e in events if e.kind in ("enter", "identified") and e.name != UNKNOWN), named)
            now += 1 / FPS
        now += config.tracking.leave_after + 1  # the person goes: the track ends
        events = tracker.update(now, np.zeros((0, 4)), np.zeros((0, gallery.embedding_size)), [])
        named = next((e.name for e in events if e.kind == "enter" and e.name != UNKNOWN), named)
        ended, tracker.ended = tracker.ended, []
        if named is None:  # a track decided once it ended, without an announcement (a cool-down)
            named = next((t.name for t in ended if t.name not in (None, UNKNOWN)), None)
        results.append((arrival, named))
        if learn and ended:
            lessons = [lesson_of(t, matcher, "bench") for t in ended]
            joined = sum(
                admit(gallery, lesson, config.learning, config.threshold, config.margin) for lesson in lessons if lesson
            )
            if joined:
                matcher = tracker.matcher = Matcher(gallery, config.threshold, config.margin)
        now += config.tracking.cooldown + 1  # no cool-down between arrivals: each is its own visit
    return results


def score(results: list[tuple[Arrival, str | None]]) -> dict[str, float]:
    by_member: dict[str, list[tuple[Arrival, str | None]]] = {}
    for arrival, named in results:
        if arrival.member:
            by_member.setdefault(arrival.person, []).append((arrival, named))
    late = [named == a.person for rows in by_member.values() for a, named in rows[len(rows) - len(rows) // 3 :]]
    members = [(a, named) for a, named in results if a.member]
    strangers = [named is not None for a, named in results if not a.member]
    return {
        "late_named": float(np.mean(late)),
        "all_named": float(np.mean([named == a.person for a, named in members])),
        "members_misnamed": float(np.mean([named not in (None, a.person) for a, named in members])),
        "strangers_named": float(np.mean(strangers)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.learning", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--strangers", type=int, default=30)
    parser.add_argument("--photos", type=int, default=6, help="photos a member needs besides the enrolled one")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=12, help="frames of each track")
    parser.add_argument("--json", type=argparse.FileType("w"))
    args = parser.parse_args(argv)
    embedder, detector = Embedder(DEFAULT_MODEL), make_detector()
    config = with_model_scores(parse({}, None), embedder.contract.scores, DEFAULT_MODEL)
    config = replace(config, learning=replace(config.learning, enabled=True))
    household, visitors = people(args.members, args.strangers, args.photos)
    household = {n: faces(p, detector) for n, p in tqdm(household.items(), desc="members' photos", unit="person")}
    visitors = {n: faces(p, detector) for n, p in tqdm(visitors.items(), desc="strangers' photos", unit="person")}
    household = {n: p for n, p in household.items() if len(p) > 1}
    gallery = empty_gallery(embedder)
    for name, photos in household.items():  # each member enrolled from their first photo with a face
        image, box = photos[0]
        gallery.people[name] = [PhotoRecord(name, "", "", embedder.embed_faces(image, box[None])[0])]
    runs = {"off": [], "on": []}
    for seed in tqdm(range(args.seeds), desc="seeds", unit="seed"):
        stream = arrivals(household, visitors, embedder, args.frames, np.random.default_rng(seed))
        for mode in runs:
            runs[mode].append(score(play(stream, gallery, config, learn=mode == "on")))
    print(
        f"{len(gallery.people)} members enrolled from one photo each, "
        f"{len(visitors)} strangers; {args.seeds} seeds, {args.frames} frames a track"
    )
    for key in runs["off"][0]:
        off = np.array([r[key] for r in runs["off"]])
        on = np.array([r[key] for r in runs["on"]])
        print(f"  {key:18s} off {off.mean():.3f} ± {off.std():.3f}   on {on.mean():.3f} ± {on.std():.3f}")
    if args.json:
        json.dump(runs, args.json, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
