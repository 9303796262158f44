"""Start-up to the first result, and peak memory: siamface beside face_recognition, one run.

    python -m bench.startup [--model FILE.onnx]

Each system runs as a fresh process over the same 30 frames of 4 faces, with the same 4 people
enrolled: siamface as `face-edge run`, face_recognition as its README's loop (HOG boxes, encodings,
distances). Time is from process start to the first frame's result; memory is the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from siamface.edge import gallery as gallery_io
from siamface.edge.enroll import enroll
from siamface.edge.loop.detect import HaarDetector
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder

from .frames import dev_people, sequence
from .runtime import startup


def child(frames: Path, photos: list[str]) -> int:
    """face_recognition's loop, printing a line per frame; started by main() in a fresh process."""
    import face_recognition as fr

    known = [fr.face_encodings(fr.load_image_file(p))[0] for p in photos]
    for path in sorted(frames.glob("*.jpg")):
        rgb = fr.load_image_file(str(path))
        encodings = fr.face_encodings(rgb, fr.face_locations(rgb))
        named = sum(min(fr.face_distance(known, e)) <= 0.6 for e in encodings)
        print(f"{path.name}: {len(encodings)} faces, {named} named", flush=True)
    return 0


def time_face_recognition(frames: Path, photos: list[str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.startup", "--child", str(frames), *photos],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    proc.stdout.readline()
    first = time.perf_counter() - started
    proc.communicate()
    return first, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), args.child[1:])

    people = dev_people(4, 6)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "frames4").mkdir()
        for i, frame in enumerate(sequence(people, 30)):
            cv2.imwrite(str(work / "frames4" / f"{i:03d}.jpg"), frame)
        embedder = Embedder(args.model, threads=1)
        gallery, _ = enroll(None, {n: [p] for n, p, _ in people}, HaarDetector(), embedder, progress=False)
        gallery_path = work / "gallery.npz"
        gallery_io.save(gallery, gallery_path)
        # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: the smaller system runs first.
        _, processed, _, ours = startup(work, args.model, gallery_path)
        try:
            import face_recognition  # noqa: F401
        except ImportError:
            theirs = None
        else:
            theirs = time_face_recognition(work / "frames4", [str(p) for _, p, _ in people])
    print("process start to first result, 30 frames of 4 faces at 640x480, 4 people enrolled")
    print(f"siamface          first frame processed {processed:5.2f} s   peak RSS {ours:5.0f} MB")
    if theirs is None:
        print("face_recognition  skipped: not installed (pip install -e '.[bench]'; see the README)")
    else:
        print(f"face_recognition  first frame processed {theirs[0]:5.2f} s   peak RSS {theirs[1]:5.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
