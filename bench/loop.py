"""The whole loop on the same 640x480 clip: siamface beside face_recognition, in one run.

    python -m bench.loop [--model FILE.onnx] [--frames 60] [--json FILE]

The clip is made from real dev photos (bench/frames.py): 1 or 4 people, a different photo every
5 frames, drifting a little. Each person is enrolled from one other photo. siamface runs its device
loop as the runner does (tracker included) with the shipped config.yaml; face_recognition runs as
its README shows (HOG boxes, dlib encodings, a name when the distance is at most its default
tolerance 0.6).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from siamface.edge import config as config_io
from siamface.edge.enroll import enroll
from siamface.edge.loop.blazeface import BlazeFaceDetector, frames_per_turn
from siamface.edge.loop.detect import DetectorSettings, HaarDetector, make_detector
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.match import Matcher
from siamface.edge.loop.pipeline import STAGES
from siamface.edge.loop.scan import Scanner, ScanSettings
from siamface.export.blazeface import full_range_path

from . import dlib_side
from .clip_speed import WholeLoop
from .events import DETECTION, _changed
from .frames import DATA, REPO, cell_of, dev_people, sequence
from .scenes import score_scenes

VARIANTS = {
    "BlazeFace, 3x3 tiles in turn": (DetectorSettings(kind="blazeface"), ScanSettings()),
    "Haar full frame": (DetectorSettings(kind="haar"), ScanSettings()),
    "Haar downscale 2": (DetectorSettings(kind="haar", downscale=2.0), ScanSettings()),
    "Haar every 10th, roi between": (DetectorSettings(kind="haar"), ScanSettings(full_every=10)),
    "Haar downscale 2, every 30th, roi": (DetectorSettings(kind="haar", downscale=2.0), ScanSettings(full_every=30)),
}


@dataclass
class Row:
    system: str
    faces: int
    threads: str
    detection: str
    ms: dict[str, float] = field(default_factory=dict)  # mean per stage and "total"
    named: int = 0  # face-frames given the right name
    wrong: int = 0  # face-frames given another enrolled person's name
    face_frames: int = 0

    @property
    def fps(self) -> float:
        return 1000.0 / self.ms["total"]


def _score(row: Row, boxes, names, people: list[str]) -> None:
    row.face_frames += len(people)
    for box, name in zip(boxes, names):
        truth = people[cell_of(box, len(people))]
        if name == truth:
            row.named += 1
        elif name in people:
            row.wrong += 1


def run_siamface(
    clip, people, model: Path, gallery, threads: int, detection: str, threshold: float, margin: float
) -> Row:
    """The device loop as the runner drives it (tracker included) on the clip, at 10 frames a second."""
    cv2.setNumThreads(threads)
    embedder = Embedder(model, threads=threads)
    detector_settings, scan = VARIANTS[detection]
    shipped = config_io.load(REPO / "config.yaml")
    config = replace(shipped, detector=replace(shipped.detector, **_changed(detector_settings)), scan=scan)
    matcher = Matcher(gallery, threshold, margin)
    row = Row("siamface", len(people), str(threads), detection)
    names = [n for n, _, _ in people]
    WholeLoop(config, make_detector(config.detector), embedder, matcher).step(clip[0])  # warm-up
    loop = WholeLoop(config, make_detector(config.detector), embedder, matcher)
    sums = dict.fromkeys((*STAGES, "total"), 0.0)
    for frame in clip:
        result, seconds = loop.step(frame, fps=10.0)
        for stage, spent in result.seconds.items():
            sums[stage] += spent * 1000
        sums["total"] += seconds * 1000
        _score(row, result.boxes, [m.name for m in result.matches], names)
    row.ms = {k: v / len(clip) for k, v in sums.items()}
    return row


def run_face_recognition(fr, clip, people, half: bool) -> Row:
    known = []
    for _, photo, _ in people:
        rgb = fr.load_image_file(str(photo))
        whole = [(0, rgb.shape[1], rgb.shape[0], 0)]  # if HOG misses the enrolment face
        known.append(fr.face_encodings(rgb, fr.face_locations(rgb) or whole)[0])
    names = [n for n, _, _ in people]
    row = Row("face_recognition", len(people), "own", "HOG at half size" if half else "HOG full frame")
    sums = dict.fromkeys(("detect", "encode", "match", "total"), 0.0)
    for frame in clip:
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        small = cv2.resize(rgb, None, fx=0.5, fy=0.5) if half else rgb
        locations = fr.face_locations(small)
        if half:
            locations = [tuple(2 * v for v in loc) for loc in locations]
        t1 = time.perf_counter()
        encodings = fr.face_encodings(rgb, locations)
        t2 = time.perf_counter()
        found = []
        for encoding in encodings:
            distances = fr.face_distance(known, encoding)
            best = int(np.argmin(distances))
            found.append(names[best] if distances[best] <= 0.6 else "unknown")
        t3 = time.perf_counter()
        for key, value in zip(("detect", "encode", "match", "total"), (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            sums[key] += value * 1000
        _score(row, [dlib_side.from_css(loc) for loc in locations], found, names)
    row.ms = {k: v / len(clip) for k, v in sums.items()}
    return row


def scenes_recall() -> None:
    """Recall of each full-scan setting on the hand-drawn boxes: speed must not buy missed faces.
    Region search between full scans changes when a face is found, not whether: see the clip rows."""
    folder = DATA / "scenes"
    if not (folder / "boxes.json").is_file():
        print(f"skipped scenes recall: {folder} not found")
        return
    print("full-scan detection on ../shared/data/scenes (43 hand-drawn faces in 9 photos)")
    for label, settings in (
        ("Haar, downscale 1", DetectorSettings(kind="haar")),
        ("Haar, downscale 2", DetectorSettings(kind="haar", downscale=2.0)),
        ("BlazeFace, whole frame only", DetectorSettings(kind="blazeface", tiles=1)),
        ("BlazeFace, whole frame and 3x3 tiles", DetectorSettings(kind="blazeface")),
    ):
        detector = make_detector(settings)
        started = time.perf_counter()
        found, total, unmatched = score_scenes(folder, detector.detect)
        seconds = time.perf_counter() - started
        print(f"  {label}: {found} of {total} found (IoU >= 0.4), {unmatched} false, {seconds:.1f} s for the set")
    full = full_range_path()
    if full.is_file():
        found, total, unmatched = score_scenes(folder, BlazeFaceDetector(DETECTION["full-range"][0], full).detect)
        print(f"  BlazeFace full-range (not shipped), whole frame only: {found} of {total} found, {unmatched} false")
    settings = DetectorSettings(kind="blazeface")
    frames = frames_per_turn(settings.tiles)
    found, total, unmatched = score_scenes(folder, lambda image: live_boxes(settings, image, frames))
    print(f"  BlazeFace live (tiles in turn): {found} of {total} found within {frames} frames, {unmatched} false")


def live_boxes(settings: DetectorSettings, image: np.ndarray, frames: int) -> np.ndarray:
    """The boxes of the last of ``frames`` live frames showing the same picture."""
    scanner = Scanner(make_detector(settings))
    for _ in range(frames):
        boxes = scanner.detect(image)
    return boxes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--frames", type=int, default=60, help="frames in each clip")
    parser.add_argument("--json", type=Path, help="write the rows here too")
    args = parser.parse_args()
    config = config_io.load(REPO / "config.yaml")
    config = config_io.with_model_scores(config, Embedder(args.model).contract.scores, args.model)
    scenes_recall()
    everyone = dev_people(4, 6)
    fr = dlib_side.face_recognition_module()
    rows: list[Row] = []
    for count in (1, 4):
        people = everyone[:count]
        clip = sequence(people, args.frames)
        enrolment = {n: [photo] for n, photo, _ in people}
        gallery, _ = enroll(None, enrolment, HaarDetector(), Embedder(args.model), progress=False)
        for threads in (1, 2):
            for detection in VARIANTS:
                rows.append(
                    run_siamface(clip, people, args.model, gallery, threads, detection, config.threshold, config.margin)
                )
        if fr is not None:
            for half in (False, True):
                rows.append(run_face_recognition(fr, clip, people, half))

    print(f"{args.frames}-frame 640x480 clips, {args.model.name}, threshold {config.threshold}; mean ms per frame")
    header = f"{'system':16} {'faces':>5} {'threads':>7} {'detection':29} {'detect':>7} {'embed*':>7} {'match':>6}"
    print(header + f" {'total':>7} {'fps':>6} {'named':>11} {'wrong':>5}")
    for r in rows:
        embed = r.ms.get("encode", r.ms.get("preprocess", 0.0) + r.ms.get("embed", 0.0))
        print(
            f"{r.system:16} {r.faces:>5} {r.threads:>7} {r.detection:29} {r.ms['detect']:>7.1f} {embed:>7.1f}"
            f" {r.ms['match']:>6.2f} {r.ms['total']:>7.1f} {r.fps:>6.1f} {r.named:>5}/{r.face_frames:<5} {r.wrong:>5}"
        )
    print("embed* = preprocess + embed for siamface, landmarks + encoding for face_recognition")
    if args.json:
        args.json.write_text(json.dumps([{**r.__dict__, "fps": r.fps} for r in rows], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
