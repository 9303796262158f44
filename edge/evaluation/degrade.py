"""Photos made to look like a camera's frames of a track: smaller, blurred, compressed, the box a
little off. A track's threshold is calibrated on such sequences, since video frames of a person
score lower than the studio-like photos a single-photo threshold is chosen on."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..loop.embed import Embedder
from ..loop.quality import MIN_FACE, MIN_SHARPNESS, weights

# Ranges a door camera sees: faces from 40 to 160 pixels, mild defocus or motion blur, a stream's
# JPEG or H.264 quality, and the detector's box wandering a little from frame to frame.
FACE_SIDES = (40.0, 160.0)
BLUR_SIGMA = (0.0, 1.5)
JPEG_QUALITY = (35, 85)
BOX_JITTER = 0.06  # of the box side, for its position and its size


def degrade(image: np.ndarray, box: Sequence[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One frame-like version of a photo: (image, face box in it)."""
    x, y, w, h = (float(v) for v in box)
    side = float(np.exp(rng.uniform(*np.log(FACE_SIDES))))
    scale = min(1.0, side / max(w, 1.0))  # never enlarge: that adds no detail a camera would have lost
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    sigma = rng.uniform(*BLUR_SIGMA)
    if sigma > 0.3:
        small = cv2.GaussianBlur(small, (0, 0), sigma)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*JPEG_QUALITY))])
    small = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if ok else small
    jitter = rng.uniform(-BOX_JITTER, BOX_JITTER, 3)
    w2 = w * scale * (1 + jitter[2])
    moved = [x * scale + jitter[0] * w * scale, y * scale + jitter[1] * h * scale, w2, w2]
    return small, np.round(moved).astype(np.int32)


def sequence_embeddings(
    photos: Sequence[tuple[np.ndarray, Sequence[int]]], frames_each: int, embedder: Embedder, rng: np.random.Generator
) -> np.ndarray:
    """A track's frames, in order, each embedding scaled by the weight the tracker would give the
    face (0 for one too small or blurred): ``frames_each`` degraded versions of each photo in turn
    (consecutive frames of one pose are alike, as they are in video)."""
    embeddings = []
    for image, box in photos:
        for _ in range(frames_each):
            frame, moved = degrade(image, box, rng)
            weight = weights(frame, moved[None], MIN_FACE, MIN_SHARPNESS)[0]
            embeddings.append(weight * embedder.embed_faces(frame, [moved])[0])
    return np.stack(embeddings)
