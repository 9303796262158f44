"""What a camera would make of a face photo: the face smaller, tilted, in a detector's loose box,
with another light, another white balance, blur, sensor noise and JPEG.

The faces we may fit shipped weights on (``../shared/data/public_domain``) are official portraits:
one pose, one light, large and sharp. Each view is made from the whole photo and only then cut
into a chip by the device's own landmarks and alignment, so it carries the device's alignment
errors on small, soft faces as well.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from siamface.edge.contract import ModelContract
from siamface.edge.loop.preprocess import crop_face

from .augment import Augmentation, camera_look

CAMERA = Augmentation(
    flip=0.5, shift=0.08, scale=0.12, rotate=10.0, brightness=0.2, contrast=0.3, gamma=0.3,
    gray=0.15, blur=0.3, jpeg=0.5, noise=0.4, cast=0.1,
)  # fmt: skip
# Side in pixels of the smallest face a view shrinks to: about the smallest the detectors find.
SMALLEST_FACE = 40


def camera_views(
    image: np.ndarray,
    box: np.ndarray,
    contract: ModelContract,
    views: int,
    rng: np.random.Generator,
    aug: Augmentation = CAMERA,
) -> np.ndarray:
    """``views`` chips (model colour, uint8) of the face in ``box`` = (x, y, w, h) of a BGR photo:
    the first as the photo shows it, the others as a camera might."""
    chips = [crop_face(image, box, contract)]
    x, y, w, h = (float(v) for v in box)
    for _ in range(views - 1):
        # Face sizes spread evenly on a log scale: as many far faces as near ones.
        side = math.exp(rng.uniform(math.log(SMALLEST_FACE), math.log(max(w, SMALLEST_FACE))))
        scale = min(1.0, side / w)
        frame = image
        if scale < 1.0:
            frame = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cx, cy = (x + w / 2) * scale, (y + h / 2) * scale
        tilt = cv2.getRotationMatrix2D((cx, cy), rng.uniform(-aug.rotate, aug.rotate), 1.0)
        frame = cv2.warpAffine(frame, tilt, frame.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if rng.random() < aug.flip:
            frame = frame[:, ::-1]
            cx = frame.shape[1] - cx
        frame = camera_look(np.ascontiguousarray(frame), aug, rng)
        # The detector's box: off centre and the wrong size by as much as a real one is.
        bw = w * scale * (1 + rng.uniform(-aug.scale, aug.scale))
        bh = h * scale * bw / (w * scale)
        cx += rng.uniform(-aug.shift, aug.shift) * bw
        cy += rng.uniform(-aug.shift, aug.shift) * bh
        view_box = np.array([round(cx - bw / 2), round(cy - bh / 2), max(round(bw), 1), max(round(bh), 1)])
        chips.append(crop_face(frame, view_box, contract))
    return np.stack(chips)
