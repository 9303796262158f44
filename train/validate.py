"""Validation on a pairs file, with the device's crops and the protocol code of face-edge evaluate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from siamface.edge.atomic import write_atomically
from siamface.edge.contract import PREPROCESS_VERSION, ModelContract
from siamface.edge.evaluation import lfw_metrics as metrics
from siamface.edge.evaluation.pairs import Pair, image_path, read_pairs
from siamface.edge.images import read_image
from siamface.edge.loop.detect import PHOTO_SEARCH, HaarDetector, face_or_whole
from siamface.edge.loop.preprocess import crop_face, to_tensor

from .cache import cache_key, file_stamps


@dataclass
class PairSet:
    pairs: list[Pair]
    crops: np.ndarray  # uint8 device crops of each distinct image
    index: np.ndarray  # (pairs, 2) rows of ``crops``
    fallbacks: int

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        return np.sum(embeddings[self.index[:, 0]] * embeddings[self.index[:, 1]], axis=1)

    def report(self, scores: np.ndarray) -> dict:
        labels = np.array([p.same for p in self.pairs])
        folds = np.array([p.fold for p in self.pairs])
        kfold = metrics.kfold_accuracy(scores, labels, folds)
        return {"accuracy": kfold.accuracy, "std": kfold.std, "auc": metrics.auc(scores, labels)}


def load_pairs(
    pairs_file: Path, images: Path, contract: ModelContract, cache_dir: Path, progress: bool = True
) -> PairSet:
    """Device crops of every image the pairs name: detected once, then cached."""
    pairs = read_pairs(pairs_file)
    keys = list(dict.fromkeys(k for p in pairs for k in (p.first, p.second)))
    paths = [image_path(images, *k) for k in keys]
    row = {k: i for i, k in enumerate(keys)}
    index = np.array([[row[p.first], row[p.second]] for p in pairs])
    stamp = file_stamps(paths)
    file = cache_dir / f"pairs-{cache_key(PREPROCESS_VERSION, contract.to_metadata(), PHOTO_SEARCH, stamp)}.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as data:
            return PairSet(pairs, data["crops"], index, int(data["fallbacks"]))
    detector, crops, fallbacks = HaarDetector(), [], 0
    for path in tqdm(paths, desc="validation faces", unit="image", disable=not progress, leave=False):
        image = read_image(path)
        box, fell_back = face_or_whole(detector, image, contract.box_margin)
        fallbacks += fell_back
        crops.append(crop_face(image, box, contract))
    crops_array = np.asarray(crops, np.uint8)
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(file, lambda h: np.savez(h, crops=crops_array, fallbacks=fallbacks))
    return PairSet(pairs, crops_array, index, fallbacks)


def embed(model, crops: np.ndarray, contract: ModelContract, batch: int = 256) -> np.ndarray:
    out = [
        np.asarray(model(to_tensor(crops[i : i + batch], contract), training=False))
        for i in range(0, len(crops), batch)
    ]
    return np.concatenate(out)
