"""Device runtime benchmark: per-stage frame time, start-up time and peak memory.

    python -m bench.runtime [--model FILE.onnx] [--frames 100]

Frames are 640x480, made from real dev photos (../shared/data or $SIAMFACE_DATA) with 1 and 4 faces.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from siamface.edge import gallery as gallery_io
from siamface.edge.enroll import enroll
from siamface.edge.loop.detect import DetectorSettings, HaarDetector
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.match import Matcher
from siamface.edge.loop.pipeline import STAGES, Pipeline

from .frames import compose, dev_people


def stage_times(pipeline: Pipeline, frame, repeats: int) -> dict[str, float]:
    """Median milliseconds per stage and in total, and the faces found."""
    pipeline.process(frame)  # warm-up
    samples = {stage: [] for stage in STAGES}
    totals, faces = [], 0
    for _ in range(repeats):
        result = pipeline.process(frame)
        for stage, seconds in result.seconds.items():
            samples[stage].append(seconds * 1000)
        totals.append(sum(result.seconds.values()) * 1000)
        faces = len(result.boxes)
    row = {stage: statistics.median(values) for stage, values in samples.items()}
    row["total"] = statistics.median(totals)
    row["faces"] = faces
    return row


def startup(work: Path, model: Path, gallery: Path) -> tuple[float, float, float, float]:
    """Seconds from process start to: the first frame read (READY=1), the first frame processed (the
    first WATCHDOG=1), the first enter event on stdout; and the child's peak RSS in MB."""
    address = str(work / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1"}
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "siamface.edge.cli",
            "run",
            "--model",
            str(model),
            "--gallery",
            str(gallery),
            "--source",
            str(work / "frames4"),
            "--max-frames",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    ready = processed = None
    while processed is None:
        message = listener.recv(4096).decode()
        if message.startswith("READY=1"):
            ready = time.perf_counter() - started
        elif message == "WATCHDOG=1":
            processed = time.perf_counter() - started
    child.stdout.readline()
    first_event = time.perf_counter() - started
    child.communicate()
    listener.close()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return ready, processed, first_event, peak_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--frames", type=int, default=100, help="timed frames per configuration")
    args = parser.parse_args()

    people = [(name, photo) for name, photo, _ in dev_people(4, 0)]
    frames = {1: compose([people[0][1]]), 4: compose([p for _, p in people])}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "frames4").mkdir()
        for i in range(30):
            cv2.imwrite(str(work / "frames4" / f"{i:03d}.jpg"), frames[4])
        embedder = Embedder(args.model, threads=1)
        gallery, _ = enroll(None, {name: [photo] for name, photo in people}, HaarDetector(), embedder, progress=False)
        gallery_path = work / "gallery.npz"
        gallery_io.save(gallery, gallery_path)

        print(f"model {args.model.name}, 640x480 frames, median ms over {args.frames} frames")
        print(
            f"{'faces':>5} {'threads':>7} {'downscale':>9} "
            + " ".join(f"{s:>10}" for s in (*STAGES, "total"))
            + "   found"
        )
        for faces, frame in frames.items():
            for threads in (1, 2):
                for downscale in (1.0, 2.0):
                    cv2.setNumThreads(threads)
                    pipeline = Pipeline(
                        HaarDetector(DetectorSettings(downscale=downscale)),
                        Embedder(args.model, threads=threads),
                        Matcher(gallery, 0.5, 0.05),
                    )
                    row = stage_times(pipeline, frame, args.frames)
                    cells = " ".join(f"{row[s]:>10.2f}" for s in (*STAGES, "total"))
                    print(f"{faces:>5} {threads:>7} {downscale:>9.1f} {cells}   {row['faces']}")
        ready, processed, first_event, peak = startup(work, args.model, gallery_path)
        print(
            f"start-up: first frame read (READY=1) after {ready:.2f} s, first frame processed after "
            f"{processed:.2f} s, first enter event (3 voting frames) after {first_event:.2f} s; "
            f"peak RSS of a 30-frame run with 4 faces: {peak:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
