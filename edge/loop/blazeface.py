"""Face detection with MediaPipe's BlazeFace (short range), run by onnxruntime.

The network sees the frame letterboxed to 128x128 and scores 896 fixed anchors; boxes and six
keypoints are decoded and merged here in numpy, as MediaPipe's face_detection_short_range graph
does (SSD anchors, sigmoid scores, weighted non-maximum suppression). A face smaller than about an
eighth of the frame's longer side is below the network's smallest anchor: `tiles` searches
overlapping squares of the frame as well, for far faces (detector.tiles).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from ..errors import SiamfaceError
from .detect import DetectorSettings

Square = tuple[int, int, int]  # left, top, side

DEFAULT_BLAZEFACE = Path(__file__).resolve().parent.parent / "models" / "blazeface-short-range.onnx"
INPUT = 128
MIN_SUPPRESSION_IOU = 0.3
# Live, the whole frame and the tiles take turns, a frame each: one network call a frame instead
# of two, plus a square around each face being followed (docs/detection.md).
TILES_A_FRAME = 2
# A face of at least MediaPipe's smallest anchor (0.1484 of the network's input) is found by the
# whole frame's search by itself; smaller ones need the square around them.
FOLLOW_BELOW = 0.15
# (stride, anchors per cell) of MediaPipe's anchor layouts, by the network's input side: the
# short-range model, and the full-range one (192; measured in docs/detection.md, not shipped).
LAYOUTS = {128: ((8, 2), (16, 6)), 192: ((4, 1),)}


@lru_cache(maxsize=2)
def anchors(size: int = INPUT) -> np.ndarray:
    """(N, 2) anchor centres in 0..1; at 128, 896 of them: 16x16 cells with 2 anchors (stride 8)
    and 8x8 cells with 6 (stride 16)."""
    centres = []
    for stride, per_cell in LAYOUTS[size]:
        cells = size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box with many."""
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(corners: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[tuple]:
    """MediaPipe's weighted suppression: each kept face is the score-weighted mean of the boxes
    (and keypoints) that overlap the best remaining one by more than MIN_SUPPRESSION_IOU."""
    order = np.argsort(-scores)
    corners, keypoints, scores = corners[order], keypoints[order], scores[order]
    kept = []
    remaining = np.arange(len(scores))
    while len(remaining):
        overlap = _iou(corners[remaining[0]], corners[remaining])
        group = remaining[overlap > MIN_SUPPRESSION_IOU]
        weights = scores[group][:, None]
        box = (corners[group] * weights).sum(axis=0) / weights.sum()
        points = (keypoints[group] * weights[:, :, None]).sum(axis=0) / weights.sum()
        kept.append((box, points, float(scores[group[0]])))
        remaining = remaining[overlap <= MIN_SUPPRESSION_IOU]
    return kept


def _positions(length: int, side: int) -> list[int]:
    """Starts of squares of ``side`` covering ``length`` evenly, overlapping by at least a quarter."""
    if length <= side:
        return [0]
    count = int(np.ceil((length - side) / (side * 0.75))) + 1
    return sorted({round(v) for v in np.linspace(0, length - side, count)})


def _seen_in(box: np.ndarray, squares: list[Square]) -> bool:
    """A face lies inside one of the squares, with half its side around it, at FOLLOW_BELOW of the
    square's side or more."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h)
    return any(
        left <= x - side / 2
        and top <= y - side / 2
        and x + w + side / 2 <= left + square
        and y + h + side / 2 <= top + square
        and side >= FOLLOW_BELOW * square
        for left, top, square in squares
    )


def frames_per_turn(tiles: int) -> int:
    """Live frames in which every one of tiles x tiles tiles has been searched once."""
    return 2 * -(-(tiles**2) // TILES_A_FRAME) if tiles > 1 else 1


@lru_cache(maxsize=8)  # a camera's frames keep their size: the grid is worked out once
def tile_squares(width: int, height: int, tiles: int) -> tuple[Square, ...]:
    """(left, top, side) of the tiles x tiles grid of overlapping squares that cover the frame."""
    if tiles <= 1:
        return ()
    side = int(np.ceil(max(width, height) / (tiles * 0.75 + 0.25)))
    side = min(side, width, height)
    return tuple((x, y, side) for y in _positions(height, side) for x in _positions(width, side))


def around_square(box: np.ndarray, width: int, height: int) -> Square:
    """A square twice a known face's side, centred on it and moved inside the frame: where the face
    is a network-friendly half of the picture."""
    x, y, w, h = (float(v) for v in box)
    side = int(min(max(2 * max(w, h), 64), max(width, height)))
    left = int(min(max(x + w / 2 - side / 2, 0), max(width - side, 0)))
    top = int(min(max(y + h / 2 - side / 2, 0), max(height - side, 0)))
    return left, top, side


def letterbox(image: np.ndarray, square: Square, size: int = INPUT) -> np.ndarray:
    """The network's input for one square of a BGR frame: size x size RGB in -1..1, the part of the
    square outside the frame padded black (-1), as MediaPipe pads."""
    left, top, side = square
    # Every k-th pixel first, down to twice the input, then averaged: area resampling of a whole
    # 1080p frame costs more than the network.
    step = max(1, side // (2 * size))
    crop = image[top : top + side : step, left : left + side : step]
    scale = size / -(-side // step)
    small = cv2.resize(
        crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))), interpolation=cv2.INTER_AREA
    )
    tensor = np.full((size, size, 3), -1.0, np.float32)
    # Colour is swapped on the 128-pixel copy, not on the whole frame: a fifth of the time at 1080p.
    tensor[: small.shape[0], : small.shape[1]] = small[:, :, ::-1] / 127.5 - 1.0
    return tensor


class BlazeFaceDetector:
    """Faces as (left, top, width, height) boxes, as HaarDetector gives them; ``keypoints`` of the
    last call hold each face's six points (eyes, nose tip, mouth, ear tragions) in frame pixels.

    ``detect`` searches the whole frame and every tile (a photo, a full scan); ``detect_live`` the
    whole frame and two tiles in turn on alternate frames, and a square around each face of the
    previous frame, so a far face is found within frames_per_turn(tiles) frames and then followed
    every frame.
    """

    def __init__(self, settings: DetectorSettings = DetectorSettings(), path: str | Path = DEFAULT_BLAZEFACE) -> None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SiamfaceError(f"{path}: BlazeFace model cannot be read ({exc.strerror}) (detector.kind)") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0]
        self.size = int(self._input.shape[1])
        if self.size not in LAYOUTS:
            raise SiamfaceError(f"{path}: a BlazeFace input of {self.size} pixels, expected one of {sorted(LAYOUTS)}")
        self._anchors = anchors(self.size)
        self.settings = settings
        self.keypoints = np.zeros((0, 6, 2), np.float32)

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> np.ndarray:
        height, width = frame.shape[:2]
        squares = [(0, 0, max(width, height)), *tile_squares(width, height, self.settings.tiles)]
        return self.detect_squares(frame, squares, min_score)

    def detect_live(self, frame: np.ndarray, index: int, previous: np.ndarray) -> np.ndarray:
        """Even frames search the whole frame, odd ones TILES_A_FRAME tiles in turn; a face of the
        last frame is also searched for in a square around it, unless one of those squares holds it
        at a size the network finds by itself (FOLLOW_BELOW)."""
        height, width = frame.shape[:2]
        tiles = tile_squares(width, height, self.settings.tiles)
        if not tiles or index % 2 == 0:
            squares = [(0, 0, max(width, height))]
        else:
            first = index // 2 * TILES_A_FRAME
            squares = [tiles[(first + k) % len(tiles)] for k in range(TILES_A_FRAME)]
        squares += [around_square(box, width, height) for box in previous if not _seen_in(box, squares)]
        return self.detect_squares(frame, list(dict.fromkeys(squares)))

    def detect_squares(self, frame: np.ndarray, squares: list[Square], min_score: float | None = None) -> np.ndarray:
        """Faces found in any of the squares, merged across them, no smaller than detector.min_size;
        ``min_score`` overrides the settings' (see photo_faces)."""
        min_score = self.settings.min_score if min_score is None else min_score
        image = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        batch = np.stack([letterbox(image, square, self.size) for square in squares])
        regressors, logits = self._session.run(None, {self._input.name: batch})
        corners, points, scores = [], [], []
        for i, (left, top, side) in enumerate(squares):
            raw, logit = regressors[i], logits[i, :, 0]
            score = 1 / (1 + np.exp(-np.clip(logit, -80, 80)))
            hit = score >= min_score
            if not hit.any():
                continue
            raw, centre = raw[hit] / self.size, self._anchors[hit]
            cx, cy = raw[:, 0] + centre[:, 0], raw[:, 1] + centre[:, 1]
            w, h = raw[:, 2], raw[:, 3]
            box = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * side
            box += [left, top, left, top]
            keypoints = (raw[:, 4:16].reshape(-1, 6, 2) + centre[:, None, :]) * side + [left, top]
            corners.append(box)
            points.append(keypoints)
            scores.append(score[hit])
        merged = weighted_nms(np.concatenate(corners), np.concatenate(points), np.concatenate(scores)) if scores else []
        faces = [f for f in merged if min(f[0][2] - f[0][0], f[0][3] - f[0][1]) >= self.settings.min_size]
        if not faces:
            self.keypoints = np.zeros((0, 6, 2), np.float32)
            return np.zeros((0, 4), np.int32)
        boxes = np.array([[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b, _, _ in faces])
        self.keypoints = np.array([p for _, p, _ in faces], np.float32)
        return np.round(boxes).astype(np.int32)
