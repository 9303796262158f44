"""The shipped default threshold: `face-edge calibrate`'s analysis over whole dev identities.

    python -m export.threshold [--model FILE.onnx] [--images ../shared/data/dev/celeba] [--far 1e-3]
                               [--write config.yaml] [--plot threshold.png]

Every dev identity is enrolled with all its photos; each photo is scored leave-one-out against its
own person (genuine) and against every other person (impostor), as the matcher scores: the best of a
person's embeddings. None of these people is in the training data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge import calibrate as cal
from edge.detect import HaarDetector
from edge.embed import DEFAULT_MODEL, Embedder
from edge.errors import SiamfaceError
from edge.evaluate import embed_images
from edge.gallery import Gallery, PhotoRecord
from edge.images import is_image_path

REPO = Path(__file__).resolve().parent.parent


def dev_gallery(images: Path, embedder: Embedder, progress: bool = True) -> tuple[Gallery, int]:
    """Every identity folder with at least two photos, all photos enrolled; and the no-face count."""
    folders = sorted(d for d in images.iterdir() if d.is_dir()) if images.is_dir() else []
    people = {d.name: sorted(p for p in d.iterdir() if is_image_path(p)) for d in folders}
    people = {name: photos for name, photos in people.items() if len(photos) >= 2}
    if len(people) < 2:
        raise SiamfaceError(f"--images {images}: need at least two identity folders of two or more photos")
    embedded = embed_images([p for photos in people.values() for p in photos], HaarDetector(), embedder, progress)
    gallery = Gallery(embedder.fingerprint, embedder.contract.preprocess_version, embedder.contract.embedding_size)
    gallery.people = {
        name: [PhotoRecord(str(p), "", "", embedded.vectors[p]) for p in photos] for name, photos in people.items()
    }
    return gallery, embedded.fallbacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--images", type=Path, default=REPO.parent / "shared" / "data" / "dev" / "celeba")
    parser.add_argument("--far", type=float, default=1e-3)
    parser.add_argument("--write", type=Path, help="set match.threshold in this config file")
    parser.add_argument("--plot", type=Path, help="score histogram PNG")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    try:
        embedder = Embedder(args.model, threads=1)
        gallery, fallbacks = dev_gallery(args.images, embedder)
        genuine, impostor = cal.gallery_scores(gallery)
        result = cal.calibrate(genuine, impostor, args.far)
    except SiamfaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    photos = sum(len(v) for v in gallery.people.values())
    figures = {
        "model": args.model.name,
        "model_sha256": embedder.fingerprint,
        "images": str(args.images),
        "people": len(gallery.people),
        "photos": photos,
        "no_face_found": fallbacks,
        "far": args.far,
        "threshold": result.threshold,
        "true_accept_rate": result.tar,
        "genuine_scores": len(genuine),
        "impostor_scores": len(impostor),
    }
    print(f"{len(gallery.people)} dev people, {photos} photos ({fallbacks} without a detected face)")
    print(f"genuine   {cal.summary(genuine)}")
    print(f"impostor  {cal.summary(impostor)}")
    print(f"threshold {result.threshold:.4f} for FAR {args.far:g}: true accept rate {result.tar:.3f}")
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
