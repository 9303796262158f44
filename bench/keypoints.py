"""BlazeFace's keypoints as the alignment, measured against the five landmarks they would replace.

    python -m bench.keypoints [--pairs FILE] [--images DIR] [--learn DIR] [--model FILE.onnx]

The bundled model is fed chips aligned on five points (eye corners, nose base) found by a numpy copy
of dlib's 5-point model inside the detector's box. BlazeFace gives six keypoints of its own (eye
centres, nose tip, mouth, ears) for free. On every photo of the dev pairs, with the shipped
detector's box:

- eye centres against dlib's own five points (face_recognition, same box), in inter-ocular
  distances: the keypoints' error and the numpy model's;
- dev-pairs accuracy (10 folds), AUC and TAR at FAR 1e-3 with chips aligned on the five points (as
  shipped) and on the keypoints (eyes, nose tip and mouth mapped by a similarity onto where they sit
  in dlib's chip on average, learned on photos of train/ identities, ``--learn``);
- time per face of the landmark model, which the keypoints would save.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siamface.edge.evaluation.lfw_metrics import auc, kfold_accuracy, tar_at_far
from siamface.edge.evaluation.pairs import image_path, read_pairs
from siamface.edge.images import read_image
from siamface.edge.loop.align import align_chip, chip_transform
from siamface.edge.loop.blazeface import BlazeFaceDetector
from siamface.edge.loop.detect import PHOTO_MIN_SCORE
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.landmarks import find_landmarks
from siamface.edge.loop.preprocess import to_tensor

from . import dlib_side
from .frames import DATA

SIDE = 1000  # the chip in which the keypoints are placed, in pixels
KEYPOINTS = 4  # eye centres (the person's right, then left), nose tip, mouth; the ears move with the head


def face(detector: BlazeFaceDetector, image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The largest face's box and keypoints, searched as photo_faces does (a second, less strict try)."""
    boxes = detector.detect(image)
    if len(boxes) == 0:
        boxes = detector.detect(image, PHOTO_MIN_SCORE)
    if len(boxes) == 0:
        return None
    i = int(np.argmax(boxes[:, 2] * boxes[:, 3]))
    return boxes[i], detector.keypoints[i, :KEYPOINTS].astype(np.float64)


def eye_centres(points: np.ndarray) -> np.ndarray:
    """dlib's five points' two eye centres, left to right in the image."""
    centres = np.array([points[0:2].mean(axis=0), points[2:4].mean(axis=0)])
    return centres[np.argsort(centres[:, 0])]


def learn_mean_keypoints(detector: BlazeFaceDetector, photos: list[Path]) -> np.ndarray:
    """Where the keypoints sit in a unit face square as dlib's chip frames it, on average."""
    placed = []
    for photo in tqdm(photos, desc="learning where the keypoints sit", unit="photo"):
        found = face(detector, read_image(photo))
        if found is None:
            continue
        box, keypoints = found
        matrix = chip_transform(find_landmarks(read_image(photo), box), SIDE, 0.0)  # chip pixel -> image
        inverse = cv2.invertAffineTransform(matrix)
        # A chip pixel samples the face square at its centre (align.py).
        placed.append((keypoints @ inverse[:, :2].T + inverse[:, 2] + 0.5) / SIDE)
    return np.median(np.stack(placed), axis=0)


def chip(image: np.ndarray, points: np.ndarray, embedder: Embedder, mean_face: np.ndarray | None) -> np.ndarray:
    contract = embedder.contract
    args = () if mean_face is None else (mean_face,)
    crop = align_chip(image, points, contract.width, contract.crop_padding, *args)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB) if contract.channels == "rgb" else crop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=DATA / "dev" / "pairs.txt")
    parser.add_argument("--images", type=Path, default=DATA / "dev" / "celeba")
    parser.add_argument("--learn", type=Path, default=DATA / "train" / "celeba")
    parser.add_argument("--learn-photos", type=int, default=300)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    if not args.pairs.is_file() or not args.learn.is_dir():
        print(f"skipped: {args.pairs} or {args.learn} not found (set SIAMFACE_DATA)")
        return 0
    fr = dlib_side.face_recognition_module()
    detector, embedder = BlazeFaceDetector(), Embedder(args.model)
    learn = sorted(args.learn.rglob("*.jpg"))
    learn = [learn[i] for i in np.linspace(0, len(learn) - 1, min(args.learn_photos, len(learn))).round().astype(int)]
    mean_keypoints = learn_mean_keypoints(detector, learn)

    pairs = read_pairs(args.pairs)
    photos = list(dict.fromkeys(image_path(args.images, *p) for pair in pairs for p in (pair.first, pair.second)))
    five, keyed, errors_five, errors_keys, seconds = {}, {}, [], [], []
    for photo in tqdm(photos, desc="dev photos", unit="photo"):
        image = read_image(photo)
        found = face(detector, image)
        if found is None:
            continue
        box, keypoints = found
        started = time.perf_counter()
        landmarks = find_landmarks(image, box)
        seconds.append(time.perf_counter() - started)
        batch = to_tensor(
            [chip(image, landmarks, embedder, None), chip(image, keypoints, embedder, mean_keypoints)],
            embedder.contract,
        )
        five[photo], keyed[photo] = embedder.embed_batch(batch)
        if fr is not None:
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            marks = fr.face_landmarks(rgb, [dlib_side.to_css(box)], model="small")[0]
            dlib_points = np.array(marks["left_eye"] + marks["right_eye"], np.float64)
            truth = eye_centres(dlib_points)
            span = float(np.linalg.norm(truth[1] - truth[0]))
            ours = keypoints[:2][np.argsort(keypoints[:2, 0])]
            errors_keys.append(np.linalg.norm(ours - truth, axis=1).mean() / span)
            errors_five.append(np.linalg.norm(eye_centres(landmarks[:4]) - truth, axis=1).mean() / span)

    kept = [
        p for p in pairs if image_path(args.images, *p.first) in five and image_path(args.images, *p.second) in five
    ]
    labels = np.array([p.same for p in kept])
    folds = np.array([p.fold for p in kept])
    print(f"{len(photos)} dev photos, {len(five)} with a face; {len(kept)} of {len(pairs)} pairs")
    if errors_keys:
        for name, errors in (("keypoints", errors_keys), ("five points (numpy)", errors_five)):
            e = np.array(errors)
            print(
                f"  eye centres, {name} vs dlib's: mean {e.mean():.3f}, "
                f"95th pct {np.quantile(e, 0.95):.3f} inter-ocular distances"
            )
    for name, embedded in (("five points (shipped)", five), ("keypoints", keyed)):
        scores = np.array(
            [
                float(embedded[image_path(args.images, *p.first)] @ embedded[image_path(args.images, *p.second)])
                for p in kept
            ]
        )
        result = kfold_accuracy(scores, labels, folds)
        tar, _ = tar_at_far(scores, labels, 1e-3)
        print(
            f"  aligned on {name}: accuracy {result.accuracy:.4f} ± {result.std:.4f}, "
            f"AUC {auc(scores, labels):.4f}, TAR@FAR1e-3 {tar:.3f}"
        )
    print(f"  landmark model: {1000 * float(np.median(seconds)):.2f} ms a face (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
