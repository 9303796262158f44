"""An upright face chip from five landmarks: the same geometry as dlib's get_face_chip.

The eye corners and nose base are mapped, by the least-squares similarity transform, onto dlib's
mean 5-point face, so every chip has the eyes level and in the same place whatever box the
detector drew. ``padding`` is the margin around that mean face as a fraction of its size
(dlib's face encoder uses 0.25).
"""

from __future__ import annotations

import cv2
import numpy as np

# dlib's mean positions of the 5 landmarks in a unit face square (get_face_chip_details):
# outer and inner corner of the left eye as seen, outer and inner of the right, base of the nose.
MEAN_FACE_5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)


def chip_transform(landmarks: np.ndarray, size: int, padding: float, mean_face: np.ndarray = MEAN_FACE_5) -> np.ndarray:
    """The 2x3 matrix taking chip pixel (column, row) to image pixel (x, y); ``mean_face``: where
    the landmarks sit in a unit face square (other points than dlib's five: bench/keypoints.py)."""
    chip = (padding + mean_face) / (2 * padding + 1) * size
    src, dst = chip - chip.mean(axis=0), landmarks - landmarks.mean(axis=0)
    variance = float((src**2).sum())
    a = float((src * dst).sum()) / variance
    b = float((src[:, 0] * dst[:, 1] - src[:, 1] * dst[:, 0]).sum()) / variance
    turn = np.array([[a, -b], [b, a]])
    # Chip pixel (c, r) samples the template at its centre (c + 0.5, r + 0.5), as dlib's chips do.
    shift = landmarks.mean(axis=0) - turn @ (chip.mean(axis=0) - 0.5)
    return np.hstack([turn, shift[:, None]])


def align_chip(
    image: np.ndarray, landmarks: np.ndarray, size: int, padding: float, mean_face: np.ndarray = MEAN_FACE_5
) -> np.ndarray:
    """The size x size chip, bilinear; a face much larger than the chip is first shrunk by area
    averaging so the chip does not alias."""
    matrix = chip_transform(np.asarray(landmarks, np.float64), size, padding, mean_face)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))  # image pixels per chip pixel
    if scale > 1.5:
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ matrix.T
        h, w = image.shape[:2]
        x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, [w, h])
        x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, [w, h])
        if x1 > x0 and y1 > y0:
            region = image[y0:y1, x0:x1]
            target = (max(1, round((x1 - x0) / scale)), max(1, round((y1 - y0) / scale)))
            shrunk = cv2.resize(region, target, interpolation=cv2.INTER_AREA)
            fx, fy = shrunk.shape[1] / (x1 - x0), shrunk.shape[0] / (y1 - y0)
            matrix = np.diag([fx, fy]) @ (matrix - np.array([[0, 0, x0], [0, 0, y0]]))
            image = shrunk
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT
    )
