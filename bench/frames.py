"""640x480 test frames made from real dev photos: 1 or 4 faces on a plain background."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from siamface.edge.images import read_image
from siamface.edge.loop.detect import HaarDetector

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SIAMFACE_DATA", REPO.parent / "shared" / "data"))


def compose(photos: list[Path], size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """Tile the photos over a grey frame: one centred, or a 2x2 grid."""
    width, height = size
    frame = np.full((height, width, 3), 110, np.uint8)
    cols = 1 if len(photos) == 1 else 2
    rows = (len(photos) + cols - 1) // cols
    cell_w, cell_h = width // cols, height // rows
    for i, path in enumerate(photos):
        image = read_image(path)
        scale = min(cell_w / image.shape[1], cell_h / image.shape[0]) * 0.95
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        x = (i % cols) * cell_w + (cell_w - image.shape[1]) // 2
        y = (i // cols) * cell_h + (cell_h - image.shape[0]) // 2
        frame[y : y + image.shape[0], x : x + image.shape[1]] = image
    return frame


def dev_people(count: int, photos: int) -> list[tuple[str, Path, list[Path]]]:
    """(identity, enrolment photo, ``photos`` other photos) for ``count`` dev people, every photo with
    exactly one face our detector finds, so both systems are judged on faces both can see."""
    root = DATA / "dev" / "celeba"
    if not root.is_dir():
        raise SystemExit(f"benchmark data {root} not found: set SIAMFACE_DATA to the face data folder")
    detector = HaarDetector()
    chosen = []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        usable = [p for p in sorted(person.glob("*.jpg")) if len(detector.detect(read_image(p))) == 1]
        if len(usable) > photos:
            chosen.append((person.name, usable[0], usable[1 : photos + 1]))
        if len(chosen) == count:
            return chosen
    raise SystemExit(f"only {len(chosen)} dev people with {photos + 1} photos with a detectable face")


def sequence(people: list[tuple[str, Path, list[Path]]], frames: int, hold: int = 5) -> list[np.ndarray]:
    """A 640x480 clip: each person in their own cell, a different photo every ``hold`` frames,
    drifting a few pixels per frame as someone standing at a door does."""
    clip = []
    for i in range(frames):
        shown = [seq[(i // hold) % len(seq)] for _, _, seq in people]
        frame = compose(shown)
        drift = np.float32([[1, 0, 6 * np.sin(i / 4)], [0, 1, 3 * np.cos(i / 5)]])
        clip.append(cv2.warpAffine(frame, drift, (frame.shape[1], frame.shape[0]), borderValue=(110, 110, 110)))
    return clip


def cell_of(box, people: int, size: tuple[int, int] = (640, 480)) -> int:
    """Which person's cell of ``compose`` a box's centre falls in."""
    if people == 1:
        return 0
    x, y = box[0] + box[2] / 2, box[1] + box[3] / 2
    return int(y >= size[1] / 2) * 2 + int(x >= size[0] / 2)
