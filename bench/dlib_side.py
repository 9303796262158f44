"""The other side of the comparison: dlib's ResNet encoder as face_recognition runs it.

face_recognition (with dlib-bin) is in the ``[bench]`` extra; every bench that uses it says so and
skips it when it is missing instead of failing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siamface.edge.evaluation.evaluate import Embedded
from siamface.edge.images import read_image
from siamface.edge.loop.detect import HaarDetector, face_or_whole

# dlib's encoder may use a BLAS thread pool; the benches compare at one thread unless told otherwise.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

MISSING = "face_recognition is not installed: pip install -e '.[bench]' && pip install --no-deps face_recognition"


def face_recognition_module():
    """The module, or None (with the reason printed once) when the [bench] extra is absent."""
    try:
        import face_recognition
    except ImportError:
        print(f"skipped face_recognition: {MISSING}")
        return None
    return face_recognition


def to_css(box) -> tuple[int, int, int, int]:
    """Our (left, top, width, height) as face_recognition's (top, right, bottom, left)."""
    x, y, w, h = (int(v) for v in box)
    return y, x + w, y + h, x


def from_css(location) -> tuple[int, int, int, int]:
    top, right, bottom, left = location
    return left, top, right - left, bottom - top


def hog_faces(fr, rgb: np.ndarray, upsample: int = 1) -> list[tuple[int, int, int, int]]:
    """face_recognition's default detector (dlib HOG), boxes as (left, top, width, height)."""
    return [from_css(loc) for loc in fr.face_locations(rgb, number_of_times_to_upsample=upsample, model="hog")]


def encode(fr, rgb: np.ndarray, boxes) -> np.ndarray:
    """dlib descriptors (N, 128), L2-normalised so scores compare like ours (cosine)."""
    if len(boxes) == 0:
        return np.zeros((0, 128), np.float32)
    vectors = np.asarray(fr.face_encodings(rgb, [to_css(b) for b in boxes]), np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def embed_images(fr, paths: Iterable[Path], detector: str, progress: bool = True) -> Embedded:
    """Each image once: ``detector`` "hog" (face_recognition as its users run it) or "haar" (our
    detector's largest box, dlib finding its 5 landmarks inside it: the distillation teacher)."""
    unique = list(dict.fromkeys(paths))
    haar = HaarDetector() if detector == "haar" else None
    vectors, fallbacks = {}, 0
    started = time.perf_counter()
    for path in tqdm(unique, desc=f"dlib on {detector} boxes", unit="image", disable=not progress):
        image = read_image(path)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if haar is not None:
            box, fell_back = face_or_whole(haar, image, 0.0)
        else:
            boxes = hog_faces(fr, rgb)
            fell_back = not boxes
            box = max(boxes, key=lambda b: b[2] * b[3]) if boxes else (0, 0, image.shape[1], image.shape[0])
        fallbacks += fell_back
        vectors[path] = encode(fr, rgb, [box])[0]
    elapsed = time.perf_counter() - started
    return Embedded(vectors, fallbacks, elapsed / max(len(unique), 1))
