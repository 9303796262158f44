"""Do two machines agree? Embeddings and verify decisions of a fixed set of dev pairs, compared.

    python -m bench.platforms embed OUT.npz [--pairs N] [--model FILE.onnx]
    python -m bench.platforms compare REFERENCE.npz [--model FILE.onnx]

`embed` runs the device pipeline (the shipped detector, landmarks, the int8 model) on the photos
of N pairs spread over `dev/pairs.txt` and stores boxes, landmarks, aligned chips, embeddings and pair scores.
`compare` runs the model on the stored chips and the whole pipeline on the same photos, and exits 1
when the model alone gives a cosine under MODEL_COSINE, the pipeline one under PIPELINE_COSINE, or
a decision at the model's threshold differs for a pair more than DECISION_MARGIN from it. CI runs
it in the emulated arm64 root against the x86 machine's file (.ci/arm64.sh, docs/platforms.md).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

from siamface.edge.evaluation.evaluate import pair_paths
from siamface.edge.evaluation.pairs import read_pairs
from siamface.edge.images import read_image
from siamface.edge.loop.detect import face_or_whole, make_detector
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.landmarks import find_landmarks
from siamface.edge.loop.preprocess import crop_face, to_tensor

from .frames import DATA

# The int8 model given the same chip; onnxruntime's kernels differ by CPU.
MODEL_COSINE = 0.999
# The whole pipeline: landmarks are whole pixels, as dlib's, so a float that rounds the other way
# on another CPU moves a landmark by one pixel and the chip with it (docs/platforms.md).
PIPELINE_COSINE = 0.995
# A decision this close to the threshold may go either way on another CPU.
DECISION_MARGIN = 0.01


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    for key in ("model name", "CPU part"):
        for line in lines:
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return "unknown"


def measure(model: Path, pair_lines: np.ndarray | None, count: int) -> dict:
    """Boxes, landmarks, chips, embeddings and pair scores of the chosen pairs (by line number)."""
    pairs_file = DATA / "dev" / "pairs.txt"
    if not pairs_file.is_file():
        raise SystemExit(f"{pairs_file}: not found: set SIAMFACE_DATA to the face data folder")
    images = DATA / "dev" / "celeba"
    pairs = read_pairs(pairs_file)
    if pair_lines is None:
        chosen = pairs[:: max(len(pairs) // count, 1)][:count]
    else:
        wanted = {int(n) for n in pair_lines}
        chosen = [p for p in pairs if p.line in wanted]
    paths = pair_paths(chosen, images, pairs_file)
    embedder, detector = Embedder(model), make_detector()
    contract = embedder.contract
    photos = list(dict.fromkeys(p for pair in paths for p in pair))
    boxes, points, chips = [], [], []
    for photo in photos:
        image = read_image(photo)
        box, _ = face_or_whole(detector, image, contract.box_margin)
        boxes.append(np.asarray(box))
        points.append(find_landmarks(image, box))
        chips.append(crop_face(image, box, contract))
    embeddings = embedder.embed_batch(to_tensor(chips, contract))
    row = {p: i for i, p in enumerate(photos)}
    return {
        "lines": np.array([p.line for p in chosen]),
        "photos": np.array([str(p.relative_to(images)) for p in photos]),
        "boxes": np.stack(boxes),
        "landmarks": np.stack(points),
        "chips": np.stack(chips),
        "embeddings": embeddings,
        "scores": np.array([float(embeddings[row[a]] @ embeddings[row[b]]) for a, b in paths]),
        "threshold": np.array(contract.scores["threshold"]),
        "model_sha256": np.array(embedder.fingerprint),
        "machine": np.array(f"{platform.machine()} ({cpu_name()})"),
    }


def compare(reference: dict, here: dict, model: Path) -> tuple[list[str], bool]:
    """The model alone (on the reference's own chips) and the whole pipeline, against the reference."""
    if str(reference["model_sha256"]) != str(here["model_sha256"]):
        return [f"the reference was made with another model ({str(reference['model_sha256'])[:12]})"], False
    embedder = Embedder(model)
    model_here = embedder.embed_batch(to_tensor(reference["chips"], embedder.contract))
    same_input = np.sum(model_here * reference["embeddings"], axis=1)
    identical = int(np.sum(np.all(model_here == reference["embeddings"], axis=1)))
    cosines = np.sum(reference["embeddings"] * here["embeddings"], axis=1)
    boxes_moved = np.any(reference["boxes"] != here["boxes"], axis=1)
    points_moved = np.any(reference["landmarks"] != here["landmarks"], axis=(1, 2))
    threshold = float(here["threshold"])
    difference = np.abs(reference["scores"] - here["scores"])
    flipped = (reference["scores"] >= threshold) != (here["scores"] >= threshold)
    far = np.minimum(np.abs(reference["scores"] - threshold), np.abs(here["scores"] - threshold)) > DECISION_MARGIN
    faces = len(cosines)
    lines = [
        f"reference {reference['machine']}, here {here['machine']}; {faces} faces of {len(difference)} dev pairs",
        f"the model on the same chips: lowest cosine {same_input.min():.5f} (at least {MODEL_COSINE}), "
        f"{identical} of {faces} identical",
        f"the whole pipeline: {int(boxes_moved.sum())} boxes and {int(points_moved.sum())} landmark sets differ, "
        f"lowest cosine {cosines.min():.5f} (at least {PIPELINE_COSINE}), largest pair-score difference "
        f"{difference.max():.4f}",
        f"decisions at {threshold:.4f}: {int(flipped.sum())} differ, {int((flipped & far).sum())} of them more than "
        f"{DECISION_MARGIN} from it; {int((~far).sum())} pairs lie within {DECISION_MARGIN}",
    ]
    for i in np.flatnonzero(cosines < MODEL_COSINE):
        lines.append(
            f"  {here['photos'][i]}: cosine {cosines[i]:.5f}; landmarks {reference['landmarks'][i].tolist()} there, "
            f"{here['landmarks'][i].tolist()} here"
        )
    for i in np.flatnonzero(flipped):
        lines.append(
            f"  pairs line {reference['lines'][i]}: {reference['scores'][i]:.4f} there, {here['scores'][i]:.4f} here"
        )
    agree = same_input.min() >= MODEL_COSINE and cosines.min() >= PIPELINE_COSINE and not np.any(flipped & far)
    return lines, bool(agree)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.platforms", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["embed", "compare"])
    parser.add_argument("file", type=Path, help="embed: the file to write; compare: the reference to read")
    parser.add_argument("--pairs", type=int, default=120, help="how many dev pairs (embed; default 120)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    if args.action == "embed":
        result = measure(args.model, None, args.pairs)
        np.savez_compressed(args.file, **result)
        print(f"{args.file}: {len(result['photos'])} faces of {len(result['lines'])} dev pairs on {result['machine']}")
        return 0
    with np.load(args.file) as stored:
        reference = dict(stored)
    here = measure(args.model, reference["lines"], len(reference["lines"]))
    lines, agree = compare(reference, here, args.model)
    print("\n".join(lines))
    print("platforms agree" if agree else "platforms DISAGREE")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
