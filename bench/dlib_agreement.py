"""How close each model's embedding stays to dlib's own, on dev faces that no model was fitted on.

    python -m bench.dlib_agreement [--model FILE.onnx ...] [--faces 600]

The bundled model is dlib's ResNet made small and refined to give dlib's embedding again, so its
cosine to dlib's embedding of the same face says how much of dlib's 3 million faces survived the
fitting. Each face: a dev photo, the shipped detector's box; ours through the device's landmarks,
chip and int8 network; dlib's through face_recognition from the same box.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siamface.edge.images import is_image_path, read_image
from siamface.edge.loop.detect import face_or_whole, make_detector
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.loop.preprocess import crop_face, to_tensor

from . import dlib_side
from .frames import DATA


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, nargs="+", default=[DEFAULT_MODEL], help="ONNX models (default: bundled)")
    parser.add_argument("--faces", type=int, default=600, help="dev photos, spread over the people (default 600)")
    args = parser.parse_args(argv)
    fr = dlib_side.face_recognition_module()
    folder = DATA / "dev" / "celeba"
    if fr is None or not folder.is_dir():
        print(f"skipped: {'no dev faces at ' + str(folder) if fr else dlib_side.MISSING}")
        return 0
    photos = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))
    photos = [photos[i] for i in np.linspace(0, len(photos) - 1, min(args.faces, len(photos))).round().astype(int)]
    embedders = [Embedder(m) for m in args.model]
    detector = make_detector()
    ours: list[list[np.ndarray]] = [[] for _ in embedders]
    theirs = []
    for photo in tqdm(photos, desc="dev faces", unit="photo"):
        image = read_image(photo)
        box, _ = face_or_whole(detector, image, embedders[0].contract.box_margin)
        theirs.append(dlib_side.encode(fr, cv2.cvtColor(image, cv2.COLOR_BGR2RGB), [box])[0])
        for row, embedder in zip(ours, embedders):
            chip = crop_face(image, box, embedder.contract)
            row.append(embedder.embed_batch(to_tensor([chip], embedder.contract))[0])
    dlib = np.stack(theirs)
    print(f"cosine to dlib's embedding of the same face, {len(photos)} dev photos:")
    for model, row in zip(args.model, ours):
        emb = np.stack(row)
        cos = np.sum(emb * dlib, 1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(dlib, axis=1)
        print(f"  {model}: mean {cos.mean():.4f}, 1st percentile {np.quantile(cos, 0.01):.4f}, lowest {cos.min():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
