"""Embedding one face at one thread: our int8 and fp32 ONNX beside dlib's encoder, same faces, one run.

    python -m bench.embedding [--model FILE.onnx] [--fp32 FILE.onnx] [--faces 50]

Each face is a dev photo with the box our Haar detector draws. siamface: crop (an aligned model:
5 landmarks inside the box + the aligned chip, also timed alone) + the network. dlib
(face_recognition's encoder): 5 landmarks inside the same box + alignment + its ResNet.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2

from siamface.edge.images import read_image
from siamface.edge.loop.detect import HaarDetector, largest_face
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.preprocess import crop_face

from . import dlib_side
from .frames import DATA

ALIGNING = "alignment alone (landmarks + chip)"


def median_ms(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="int8 model (default: the bundled one)")
    parser.add_argument("--fp32", type=Path, help="its fp32 export")
    parser.add_argument("--faces", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per face")
    args = parser.parse_args()
    root = DATA / "dev" / "celeba"
    if not root.is_dir():
        raise SystemExit(f"benchmark data {root} not found: set SIAMFACE_DATA to the face data folder")
    cv2.setNumThreads(1)
    detector, faces = HaarDetector(), []
    for photo in sorted(root.rglob("*.jpg")):
        image = read_image(photo)
        box = largest_face(detector.detect(image))
        if box is not None:
            faces.append((image, box))
        if len(faces) == args.faces:
            break

    rows: dict[str, float] = {}
    for label, path in (("siamface int8", args.model), ("siamface fp32", args.fp32)):
        if path is not None:
            embedder = Embedder(path, threads=1)
            times = [median_ms(lambda f=f, e=embedder: e.embed_faces(f[0], [f[1]]), args.repeats) for f in faces]
            rows[f"{label} ({path.name})"] = statistics.median(times)
            if embedder.contract.alignment == "landmarks5" and ALIGNING not in rows:
                times = [
                    median_ms(lambda f=f, e=embedder: crop_face(f[0], f[1], e.contract), args.repeats) for f in faces
                ]
                rows[ALIGNING] = statistics.median(times)
    fr = dlib_side.face_recognition_module()
    if fr is not None:
        rgb = [(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), box) for image, box in faces]
        times = [median_ms(lambda f=f: dlib_side.encode(fr, f[0], [f[1]]), args.repeats) for f in rgb]
        rows["dlib ResNet (face_recognition)"] = statistics.median(times)

    print(f"median ms to embed one face at 1 thread, {len(faces)} dev faces x {args.repeats} runs")
    slowest = max(rows.values())
    for label, ms in rows.items():
        print(f"{label:44} {ms:8.2f} ms   {slowest / ms:6.1f}x the slowest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
