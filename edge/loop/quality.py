"""How much a detected face counts towards its track's name: nothing when too small or blurred."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def sharpness(frame: np.ndarray, box: Sequence[int]) -> float:
    """Variance of the Laplacian of the face, resized to 64x64 so that it does not depend on face size."""
    x, y, w, h = (int(v) for v in box)
    face = frame[max(y, 0) : y + h, max(x, 0) : x + w]
    if face.size == 0:
        return 0.0
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY) if face.ndim == 3 else face
    gray = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


# The gate's defaults (quality.min_face, quality.min_sharpness)
MIN_FACE = 32
MIN_SHARPNESS = 60.0

# A face this large and this sharp counts fully in its track's template; a smaller or softer one,
# whose embedding is less reliable, counts less (by area, and by sharpness), so that the frames of
# a person walking up outweigh the first distant ones.
FULL_SIDE = 100
FULL_SHARPNESS = 300.0


def weights(frame: np.ndarray, boxes: np.ndarray, min_size: int, min_sharpness: float) -> list[float]:
    """How much each face counts in its track's template: 0 for a face that fails the gate."""
    result = []
    for box in boxes:
        side = int(box[2])
        sharp = sharpness(frame, box) if side >= min_size else 0.0
        ok = side >= min_size and sharp >= min_sharpness
        result.append(min(1.0, side / FULL_SIDE) ** 2 * min(1.0, sharp / FULL_SHARPNESS) if ok else 0.0)
    return result
