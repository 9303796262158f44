"""Searching part of the frame: full scans every k-th frame, regions around known faces in between."""

import numpy as np
import pytest

from bench.frames import compose, sequence
from siamface.edge.loop.detect import DetectorSettings, HaarDetector
from siamface.edge.loop.scan import Scanner, ScanSettings
from siamface.edge.loop.track import iou

from .conftest import data_dir, one_face_photos

pytestmark = pytest.mark.arm64


def _clip(frames: int):
    root = data_dir("dev", "celeba")
    names = sorted(d.name for d in root.iterdir() if d.is_dir())[:40]
    people = []
    for name in names:
        photos = [p for p in sorted((root / name).glob("*.jpg"))]
        if len(photos) >= 4:
            people.append((name, photos[0], one_face_photos(root, name, 3)))
        if len(people) == 2:
            break
    return people, sequence(people, frames, hold=4)


def test_region_search_follows_the_faces_a_full_scan_finds():
    _, clip = _clip(24)
    full = HaarDetector()
    scanner = Scanner(HaarDetector(), ScanSettings(full_every=8, between="roi"))
    agreeing = 0
    for frame in clip:
        reference = full.detect(frame)
        found = scanner.detect(frame)
        assert len(found) <= len(reference) + 1
        agreeing += sum(any(iou(f, r) > 0.5 for f in found) for r in reference)
    reference_total = sum(len(full.detect(f)) for f in clip)
    print(f"region search kept {agreeing} of {reference_total} faces a full scan finds")
    # Measured 47 of 50 (2 of the others: a false face the full scan finds in two frames). Photos change
    # every 4 frames, so this includes a new face appearing where the last one was.
    assert agreeing >= 0.9 * reference_total


def test_hold_reuses_boxes_and_a_new_face_waits_for_the_next_full_scan():
    root = data_dir("dev", "celeba")
    name = sorted(d.name for d in root.iterdir() if d.is_dir())[0]
    face = compose(one_face_photos(root, name, 1))
    empty = np.full_like(face, 110)
    held = Scanner(HaarDetector(), ScanSettings(full_every=3, between="hold"))
    first = held.detect(face)
    assert len(first) == 1
    assert np.array_equal(held.detect(empty), first)  # boxes held, frame not searched
    roi = Scanner(HaarDetector(), ScanSettings(full_every=3, between="roi"))
    assert len(roi.detect(empty)) == 0
    assert len(roi.detect(face)) == 0  # no known face to search around until frame 3
    assert len(roi.detect(face)) == 0
    assert len(roi.detect(face)) == 1


def test_region_boxes_are_in_frame_coordinates():
    _, clip = _clip(2)
    scanner = Scanner(HaarDetector(DetectorSettings(downscale=2.0)), ScanSettings(full_every=2))
    first, second = scanner.detect(clip[0]), scanner.detect(clip[0])
    assert len(first) >= 1 and len(second) >= 1
    for box in second:
        assert max(iou(box, f) for f in first) > 0.6
