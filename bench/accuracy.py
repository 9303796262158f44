"""Verification accuracy on the dev pairs: siamface beside dlib's encoder, in one run.

    python -m bench.accuracy [--model FILE.onnx] [--fp32 FILE.onnx] [--json FILE]

Rows: our model(s) through the device pipeline (Haar, largest face, the model's preprocessing);
dlib's ResNet on the same Haar boxes (the distillation teacher, 5-point alignment inside the box);
face_recognition as its users run it (HOG detector, then the same dlib encoder). LFW View-2
protocol: 10-fold accuracy, thresholds chosen on the other nine folds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from siamface.edge.evaluation.evaluate import embed_images, pair_paths, verification
from siamface.edge.evaluation.pairs import read_pairs
from siamface.edge.loop.detect import HaarDetector
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder

from . import dlib_side
from .frames import DATA


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="int8 model (default: the bundled one)")
    parser.add_argument("--fp32", type=Path, help="its fp32 export, for a row of its own")
    parser.add_argument("--pairs", type=Path, default=DATA / "dev" / "pairs.txt")
    parser.add_argument("--images", type=Path, default=DATA / "dev" / "celeba")
    parser.add_argument("--json", type=Path, help="write the rows here too")
    args = parser.parse_args()
    if not args.pairs.is_file():
        raise SystemExit(f"benchmark data {args.pairs} not found: set SIAMFACE_DATA to the face data folder")

    pairs = read_pairs(args.pairs)
    paths = pair_paths(pairs, args.images, args.pairs)
    every = [p for pair in paths for p in pair]
    rows = {}
    for label, model in (("siamface int8", args.model), ("siamface fp32", args.fp32)):
        if model is not None:
            embedder = Embedder(model, threads=1)
            embedded = embed_images(every, HaarDetector(), embedder)
            rows[f"{label} ({model.name})"] = verification(pairs, paths, embedded, embedder.fingerprint).report
    fr = dlib_side.face_recognition_module()
    if fr is not None:
        for label, detector in (("dlib ResNet on Haar boxes (teacher)", "haar"), ("face_recognition (HOG)", "hog")):
            embedded = dlib_side.embed_images(fr, every, detector)
            rows[label] = verification(pairs, paths, embedded, "dlib_face_recognition_resnet_model_v1").report

    print(f"{len(pairs)} pairs of {args.pairs}")
    print(f"{'':40} {'accuracy':>16} {'AUC':>6} {'TAR@1e-3':>8} {'no face':>7} {'ms/image':>8}")
    for label, r in rows.items():
        print(
            f"{label:40} {r['accuracy']:>8.4f} ± {r['std']:.4f} {r['auc']:>6.3f} {r['tar_at_far_1e-3']:>8.3f}"
            f" {r['fallbacks']:>7} {1000 * r['seconds_per_image']:>8.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
