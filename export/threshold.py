"""The shipped default threshold: `face-edge calibrate`'s analysis on dev identities.

    python -m export.threshold [--model FILE.onnx] [--images ../shared/data/dev/celeba] [--far 1e-3]
                               [--enroll-count 3] [--write config.yaml] [--plot threshold.png]

Every dev identity is enrolled as a user would enrol someone, from a few photos (``--enroll-count``);
each of their other photos is scored against every enrolled person as the matcher scores (the best
of that person's embeddings): against its own person it is a genuine score, against each other
person an impostor score. The threshold is the one that lets ``--far`` of the impostor scores
through. None of these people is in the training data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge import calibrate as cal
from edge.detect import HaarDetector
from edge.embed import DEFAULT_MODEL, Embedder
from edge.errors import SiamfaceError
from edge.evaluate import embed_images
from edge.gallery import Gallery, PhotoRecord
from edge.images import is_image_path
from edge.match import UNKNOWN, Matcher

REPO = Path(__file__).resolve().parent.parent
MARGINS = (0.0, 0.01, 0.02, 0.05)


def dev_scores(
    images: Path, embedder: Embedder, enroll_count: int, progress: bool = True
) -> tuple[Gallery, list[tuple[str, np.ndarray]], int]:
    """The gallery of every dev person's first photos, each person's other photos as embeddings, and
    how many photos had no detected face."""
    folders = sorted(d for d in images.iterdir() if d.is_dir()) if images.is_dir() else []
    people = {d.name: sorted(p for p in d.iterdir() if is_image_path(p)) for d in folders}
    people = {name: photos for name, photos in people.items() if len(photos) > enroll_count}
    if len(people) < 2:
        raise SiamfaceError(f"--images {images}: need at least two identity folders of more than {enroll_count} photos")
    embedded = embed_images([p for photos in people.values() for p in photos], HaarDetector(), embedder, progress)
    v = embedded.vectors
    gallery = Gallery(embedder.fingerprint, embedder.contract.preprocess_version, embedder.contract.embedding_size)
    gallery.people = {n: [PhotoRecord(str(p), "", "", v[p]) for p in ps[:enroll_count]] for n, ps in people.items()}
    probes = [(name, np.stack([v[p] for p in photos[enroll_count:]])) for name, photos in people.items()]
    return gallery, probes, embedded.fallbacks


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "dev" / "celeba")
    parser.add_argument("--far", type=float, default=1e-3)
    parser.add_argument("--enroll-count", type=int, default=3, help="photos per enrolled person")
    parser.add_argument("--write", type=Path, help="set match.threshold in this config file")
    parser.add_argument("--plot", type=Path, help="score histogram PNG")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    try:
        embedder = Embedder(args.model, threads=1)
        gallery, probe_sets, fallbacks = dev_scores(args.images, embedder, args.enroll_count)
        genuine, impostor = split_scores(gallery, probe_sets)
        people, probes = len(probe_sets), len(genuine)
        result = cal.calibrate(genuine, impostor, args.far)
    except SiamfaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in result.warnings:
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
    if args.plot:
        from edge.plots import score_histogram

        score_histogram(genuine, impostor, args.plot, f"dev identities, {args.model.name}", result.threshold)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    if args.write:
        from edge.config_edit import set_threshold

        set_threshold(args.write, result.threshold)
        print(f"wrote match.threshold: {result.threshold:.4f} into {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
