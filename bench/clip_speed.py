"""Time per frame on the real clips of ../shared/data/video: siamface's detectors beside face_recognition.

    python -m bench.clip_speed [--frames 30] [--json FILE]

For each clip, its first N frames (decoded beforehand, so decoding is not timed) go through the
device loop (detection, landmarks, embedding, matching against the clip's enrolled people, tracking)
as config.yaml ships it (BlazeFace), with Haar at full size every frame, and with the full-range
BlazeFace when it has been made, one thread each, and through face_recognition's README loop (HOG
at full resolution, encodings of every face found). One run, same frames.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2

from siamface.edge import config as config_io
from siamface.edge.config import with_model_scores
from siamface.edge.enroll import enroll
from siamface.edge.loop.detect import Detector, make_detector
from siamface.edge.loop.embed import Embedder
from siamface.edge.loop.match import Matcher
from siamface.edge.loop.pipeline import FrameResult, Pipeline
from siamface.edge.loop.scan import Scanner, describe
from siamface.edge.loop.track import Tracker
from siamface.edge.runner import Runtime, track_frame
from siamface.export.blazeface import full_range_path

from . import dlib_side
from .events import DETECTION, _changed, clips, enrolled_for, variant_detector
from .frames import DATA, REPO


def first_frames(clip: Path, count: int) -> list:
    capture = cv2.VideoCapture(str(clip / "clip.mp4"))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


class WholeLoop:
    """The device loop as the runner drives it, one camera: detection to events, tracker included
    (a named face is not embedded on every frame; settle.py), given its detector, model and people."""

    def __init__(self, config: config_io.Config, detector: Detector, embedder: Embedder, matcher: Matcher) -> None:
        config = with_model_scores(config, embedder.contract.scores, embedder.path)
        self.runtime = Runtime(config, Pipeline(Scanner(detector, config.scan), embedder, matcher))
        self.tracker = Tracker(matcher, config.tracking)
        self.frames = 0

    def step(self, frame, fps: float = 30.0) -> tuple[FrameResult, float]:
        """One frame: the pipeline's result and the loop's seconds for it."""
        started = time.perf_counter()
        result, _ = track_frame(self.runtime, self.tracker, frame, self.frames / fps)
        self.frames += 1
        return result, time.perf_counter() - started


def time_siamface(frames: list, config: config_io.Config, embedder: Embedder, matcher: Matcher, variant: str) -> float:
    WholeLoop(config, variant_detector(variant, config.detector), embedder, matcher).step(frames[0])  # warm-up
    loop = WholeLoop(config, variant_detector(variant, config.detector), embedder, matcher)
    return sum(loop.step(frame)[1] for frame in frames) / len(frames) * 1000


def time_face_recognition(fr, frames: list) -> float:
    started = time.perf_counter()
    for frame in frames:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        fr.face_encodings(rgb, fr.face_locations(rgb))
    return (time.perf_counter() - started) / len(frames) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clip_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DATA / "video")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    shipped = config_io.load(REPO / "config.yaml")
    haar = replace(shipped, detector=replace(shipped.detector, kind="haar"))
    variants = {"shipped": shipped, "haar": haar}
    if full_range_path().is_file():
        full = replace(shipped.detector, **_changed(DETECTION["full-range"][0]))
        variants["full-range"] = replace(shipped, detector=full)
    else:
        print(
            f"{full_range_path()} not found: the full-range column is left out "
            "(python -m siamface.export.blazeface --range full)"
        )
    fr = dlib_side.face_recognition_module()
    if fr is None:
        print("face_recognition is not installed: its column is left out (see the README's Benchmarks)")
    embedder = Embedder(shipped.model_path, threads=1)
    every = clips(args.clips)
    rows = []
    for clip in every:
        frames = first_frames(clip, args.frames)
        people = enrolled_for(clip, every)
        gallery, _ = enroll(None, people, make_detector(shipped.detector), embedder, progress=False)
        matcher = Matcher(gallery, embedder.contract.scores["threshold"], embedder.contract.scores["margin"])
        row = {"clip": clip.name, "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "frames": len(frames)}
        for label, config in variants.items():
            row[label] = time_siamface(frames, config, embedder, matcher, label)
        row["face_recognition"] = time_face_recognition(fr, frames) if fr else None
        rows.append(row)
        slow = row["face_recognition"]
        times = ", ".join(f"{k} {row[k]:.1f} ms" + (f" ({slow / row[k]:.1f}x)" if slow else "") for k in variants)
        print(f"{clip.name:28s} {row['size']:>10s}: {times}" + (f", face_recognition {slow:.0f} ms" if slow else ""))
    for label, config in variants.items():
        print(f"{label}: {describe(config.detector, config.scan)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
