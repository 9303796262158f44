"""The scores a model ships with: `face-edge calibrate`'s analysis on dev identities.

    python -m siamface.export.threshold [--model FILE.onnx] [--images ../shared/data/dev/celeba] [--far 1e-3]
        [--enroll-count 3] [--min-frames 3] [--write] [--plot threshold.png] [--json threshold.json]

``--write`` puts the thresholds and match.margin into the model's metadata (siamface.match.*),
where a config's ``match.*: null`` finds them.

Every dev identity is enrolled as a user would enrol someone, from a few photos (``--enroll-count``);
each of their other photos is scored against every enrolled person as the matcher scores (the best
of that person's embeddings): against its own person it is a genuine score, against each other
person an impostor score. The threshold is the one that lets ``--far`` of the impostor scores
through. None of these people is in the training data.

The stranger threshold: two tracks of different people whose whole templates are this alike are as
rare as ``--far``; an unknown track this alike to one still present, or gone less than a cool-down
ago, is the same stranger and is not announced again.

The track threshold is found the same way on tracks: each person's other photos, two at a time,
made to look like video frames (edge/evaluation/degrade.py) and matched as the tracker matches, by the running
template from ``tracking.min_frames`` frames on; a track's score against a person is the highest
any of its templates reaches, since it is named the first time one crosses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from siamface.edge.errors import SiamfaceError
from siamface.edge.evaluation import calibrate as cal
from siamface.edge.evaluation.degrade import sequence_embeddings
from siamface.edge.evaluation.evaluate import embed_images, embedded_gallery, identity_photos
from siamface.edge.gallery import Gallery
from siamface.edge.images import read_image
from siamface.edge.loop.detect import HaarDetector, face_or_whole
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.match import UNKNOWN, Matcher
from siamface.edge.loop.track import TrackSettings

REPO = Path(__file__).resolve().parent.parent
MARGINS = (0.0, 0.01, 0.02, 0.05)
PHOTOS_PER_TRACK = 2  # a track shows a person in a pose or two...
FRAMES_PER_PHOTO = 3  # ...over several alike frames each


def dev_people(images: Path, enroll_count: int) -> dict[str, list[Path]]:
    people = identity_photos(images, enroll_count) if images.is_dir() else {}
    if len(people) < 2:
        raise SiamfaceError(f"--images {images}: need at least two identity folders of more than {enroll_count} photos")
    return people


def dev_scores(
    images: Path, embedder: Embedder, enroll_count: int, progress: bool = True
) -> tuple[Gallery, list[tuple[str, np.ndarray]], int]:
    """The gallery of every dev person's first photos, each person's other photos as embeddings, and
    how many photos had no detected face."""
    people = dev_people(images, enroll_count)
    embedded = embed_images([p for photos in people.values() for p in photos], HaarDetector(), embedder, progress)
    v = embedded.vectors
    gallery = embedded_gallery(embedder, {n: photos[:enroll_count] for n, photos in people.items()}, v)
    probes = [(name, np.stack([v[p] for p in photos[enroll_count:]])) for name, photos in people.items()]
    return gallery, probes, embedded.fallbacks


def dev_tracks(
    images: Path, embedder: Embedder, enroll_count: int, seed: int = 0, progress: bool = True
) -> list[tuple[str, np.ndarray]]:
    """Video-like tracks of every dev person, made from the photos they were not enrolled from."""
    rng = np.random.default_rng(seed)
    detector = HaarDetector()
    people = dev_people(images, enroll_count)
    tracks = []
    for name, photos in tqdm(people.items(), desc="tracks", unit="person", disable=not progress):
        probes = photos[enroll_count:]
        for start in range(0, len(probes) - PHOTOS_PER_TRACK + 1, PHOTOS_PER_TRACK):
            shown = []
            for path in probes[start : start + PHOTOS_PER_TRACK]:
                image = read_image(path)
                shown.append((image, face_or_whole(detector, image, embedder.contract.box_margin)[0]))
            tracks.append((name, sequence_embeddings(shown, FRAMES_PER_PHOTO, embedder, rng)))
    return tracks


def track_naming_rates(
    gallery: Gallery, tracks: list[tuple[str, np.ndarray]], threshold: float, margin: float, min_frames: int
) -> tuple[float, float]:
    """The share of tracks named rightly and wrongly with the whole gallery enrolled: a track takes
    the first name its running template is given."""
    matcher = Matcher(gallery, threshold, margin)
    right = wrong = 0
    for name, sequence in tracks:
        given = next(
            (m.name for m in matcher.match(cal.running_templates(sequence, min_frames)) if m.name != UNKNOWN), None
        )
        right += given == name
        wrong += given not in (name, None)
    return right / len(tracks), wrong / len(tracks)


def split_scores(gallery: Gallery, probes: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) as the matcher scores: each probe against its own person, and against
    each other person."""
    matcher = Matcher(gallery, 0.0, 0.0)
    genuine, impostor = [], []
    for name, faces in probes:
        scores, own = matcher.person_scores(faces), matcher.names.index(name)
        genuine.append(scores[:, own])
        impostor.append(np.delete(scores, own, axis=1).ravel())
    return np.concatenate(genuine), np.concatenate(impostor)


def naming_rates(
    gallery: Gallery, probes: list[tuple[str, np.ndarray]], threshold: float, margin: float
) -> tuple[float, float]:
    """The matcher's answers with the whole gallery enrolled: the share of probe photos named
    rightly, and wrongly."""
    matcher = Matcher(gallery, threshold, margin)
    answers = [(name, m.name) for name, faces in probes for m in matcher.match(faces)]
    right = sum(given == name for name, given in answers)
    wrong = sum(given not in (name, UNKNOWN) for name, given in answers)
    return right / len(answers), wrong / len(answers)


def write_scores(model: Path, scores: dict[str, float]) -> dict[str, float]:
    """Put the matching scores into the model's metadata (siamface.match.*), four decimals each, as a
    config would hold them; the file is rewritten atomically, so its sha256 changes, its weights not."""
    import onnx

    from siamface.edge.atomic import write_atomically
    from siamface.edge.contract import PREFIX, SCORES

    proto = onnx.load(str(model))
    written = {key: round(float(scores[key]), 4) for key in SCORES}
    keep = {p.key: p.value for p in proto.metadata_props if not p.key.startswith(f"{PREFIX}match.")}
    onnx.helper.set_model_props(proto, {**keep, **{f"{PREFIX}match.{k}": repr(v) for k, v in written.items()}})
    data = proto.SerializeToString()
    write_atomically(model, lambda handle: handle.write(data))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "dev" / "celeba")
    parser.add_argument("--far", type=float, default=1e-3)
    parser.add_argument("--enroll-count", type=int, default=3, help="photos per enrolled person")
    parser.add_argument("--min-frames", type=int, default=TrackSettings.min_frames, help="tracking.min_frames")
    parser.add_argument("--seed", type=int, default=0, help="for the video-like degradations of the tracks")
    parser.add_argument(
        "--write",
        action="store_true",
        help="write the thresholds and match.margin into the model's metadata, where match.*: null finds them",
    )
    parser.add_argument("--plot", type=Path, help="score histogram PNG (and the tracks' beside it, *-tracks.png)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    try:
        embedder = Embedder(args.model, threads=1)
        gallery, probe_sets, fallbacks = dev_scores(args.images, embedder, args.enroll_count)
        genuine, impostor = split_scores(gallery, probe_sets)
        people, probes = len(probe_sets), len(genuine)
        result = cal.calibrate(genuine, impostor, args.far)
        tracks = dev_tracks(args.images, embedder, args.enroll_count, args.seed)
        track_genuine, track_impostor = cal.track_scores(gallery, tracks, args.min_frames)
        track_result = cal.calibrate(track_genuine, track_impostor, args.far)
        same_stranger, other_strangers = cal.stranger_pair_scores(tracks)
        stranger_result = cal.calibrate(same_stranger, other_strangers, args.far)
    except SiamfaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in result.warnings + track_result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    figures = {
        "model": args.model.name,
        "model_sha256": embedder.fingerprint,
        "images": str(args.images),
        "people": people,
        "photos_per_person_enrolled": args.enroll_count,
        "probe_photos": probes,
        "no_face_found": fallbacks,
        "far": args.far,
        "threshold": result.threshold,
        "true_accept_rate": result.tar,
        "genuine_scores": len(genuine),
        "impostor_scores": len(impostor),
        # match.margin: the best person must lead the next by this much; on the whole dev gallery
        "named_by_margin": {
            str(m): dict(zip(("right", "wrong"), naming_rates(gallery, probe_sets, result.threshold, m)))
            for m in MARGINS
        },
        "tracks": len(tracks),
        "track_frames": PHOTOS_PER_TRACK * FRAMES_PER_PHOTO,
        "min_frames": args.min_frames,
        "track_threshold": track_result.threshold,
        "track_true_accept_rate": track_result.tar,
        "track_impostor_scores": len(track_impostor),
        "tracks_named": dict(
            zip(
                ("right", "wrong"),
                track_naming_rates(gallery, tracks, track_result.threshold, MARGINS[2], args.min_frames),
            )
        ),
        # Two unknown tracks alike enough to be one stranger: pairs of tracks of different people
        "stranger_threshold": stranger_result.threshold,
        "same_stranger_recognised": stranger_result.tar,
        "stranger_pairs": len(other_strangers),
        # The frame threshold on tracks, for comparison: what naming on a template gains.
        "tracks_named_at_frame_threshold": dict(
            zip(("right", "wrong"), track_naming_rates(gallery, tracks, result.threshold, MARGINS[2], args.min_frames))
        ),
    }
    print(f"{people} dev people enrolled from {args.enroll_count} photos each, {probes} probe photos")
    print(f"{fallbacks} photos without a detected face (whole photo used)")
    print(f"genuine   {cal.summary(genuine)}")
    print(f"impostor  {cal.summary(impostor)}")
    print(f"threshold {result.threshold:.4f} for FAR {args.far:g}: true accept rate {result.tar:.3f}")
    for m, rates in figures["named_by_margin"].items():
        print(
            f"  all {people} enrolled, match.margin {m}: "
            f"named rightly {rates['right']:.3f}, wrongly {rates['wrong']:.4f}"
        )
    print(
        f"tracks    {len(tracks)} of {figures['track_frames']} video-like frames, named from frame {args.min_frames} on"
    )
    print(f"genuine   {cal.summary(track_genuine)}")
    print(f"impostor  {cal.summary(track_impostor)}")
    print(f"track threshold {track_result.threshold:.4f} for FAR {args.far:g}: true accept rate {track_result.tar:.3f}")
    for label, key in (("track threshold", "tracks_named"), ("frame threshold", "tracks_named_at_frame_threshold")):
        rates = figures[key]
        print(
            f"  all {people} enrolled, match.margin {MARGINS[2]}, at the {label}: "
            f"tracks named rightly {rates['right']:.3f}, wrongly {rates['wrong']:.4f}"
        )
    print(
        f"stranger threshold {stranger_result.threshold:.4f}: {args.far:g} of {len(other_strangers)} pairs of tracks "
        f"of different people reach it, {stranger_result.tar:.3f} of pairs of one person's"
    )
    if args.plot:
        from siamface.edge.evaluation.plots import score_histogram

        score_histogram(genuine, impostor, args.plot, f"dev identities, {args.model.name}", result.threshold)
        tracks_plot = args.plot.with_name(f"{args.plot.stem}-tracks.png")
        title = f"video-like tracks of dev identities, {args.model.name}"
        score_histogram(track_genuine, track_impostor, tracks_plot, title, track_result.threshold)
    if args.write:
        scores = {
            "threshold": result.threshold,
            "margin": MARGINS[2],
            "track_threshold": track_result.threshold,
            "stranger_threshold": stranger_result.threshold,
        }
        written = write_scores(args.model, scores)
        figures["model_sha256"] = Embedder(args.model, threads=1).fingerprint  # the file as it now is
        print(f"wrote {', '.join(f'match.{k}: {v:.4f}' for k, v in written.items())} into {args.model}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
