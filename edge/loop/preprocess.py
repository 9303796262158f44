"""The one preprocessing path: detected box -> crop with margin -> resize -> colour and scale.

Enrolment, the live loop, evaluation, training and export calibration all call these functions,
so a model sees on the device exactly what it saw when it was trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..contract import ModelContract
from .align import align_chip
from .landmarks import find_landmarks

Box = tuple[int, int, int, int]  # left, top, width, height in frame pixels


def expand_box(box: Sequence[int], margin: float) -> tuple[int, int, int, int]:
    """Return (x0, y0, x1, y1) of the box grown by ``margin`` of its size on each side."""
    x, y, w, h = (int(v) for v in box)
    dx, dy = round(w * margin), round(h * margin)
    return x - dx, y - dy, x + w + dx, y + h + dy


def crop_face(frame: np.ndarray, box: Sequence[int], contract: ModelContract) -> np.ndarray:
    """Crop one face from a BGR uint8 frame as uint8 (height, width, channels) in the model's colour order.

    Parts of the grown box outside the frame are filled with black rather than shifting the box
    inward, so a face at the edge keeps its position inside the crop. An aligned model's crop is
    the chip aligned on the five landmarks found inside the box.
    """
    if contract.alignment == "landmarks5":
        crop = align_chip(frame, find_landmarks(frame, box), contract.width, contract.crop_padding)
    else:
        crop = _box_crop(frame, box, contract)
    if contract.channels == "rgb":
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    if contract.channels == "gray":
        return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[:, :, None]
    return crop


def _box_crop(frame: np.ndarray, box: Sequence[int], contract: ModelContract) -> np.ndarray:
    x0, y0, x1, y1 = expand_box(box, contract.crop_padding)
    frame_h, frame_w = frame.shape[:2]
    crop = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, frame_w), min(y1, frame_h)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    shrinking = crop.shape[1] > contract.width
    return cv2.resize(
        crop, (contract.width, contract.height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )


def to_tensor(crops: Sequence[np.ndarray] | np.ndarray, contract: ModelContract) -> np.ndarray:
    """Stack uint8 crops into the float32 batch the model takes: scaled and in its layout."""
    batch = np.asarray(crops, dtype=np.float32).reshape(-1, contract.height, contract.width, contract.channel_count)
    batch = (batch - np.asarray(contract.mean, np.float32)) / np.asarray(contract.std, np.float32)
    if contract.layout == "nchw":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch)


def preprocess_faces(frame: np.ndarray, boxes: Sequence[Sequence[int]], contract: ModelContract) -> np.ndarray:
    """All faces of one frame as one model batch."""
    return to_tensor([crop_face(frame, box, contract) for box in boxes], contract)


def whole_image_box(shape: Sequence[int], margin: float) -> Box:
    """The box whose margin-grown crop is the whole image: how an already-cropped face is fed in."""
    h, w = shape[:2]
    inner_w, inner_h = round(w / (1 + 2 * margin)), round(h / (1 + 2 * margin))
    return (w - inner_w) // 2, (h - inner_h) // 2, inner_w, inner_h
