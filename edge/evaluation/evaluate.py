"""Accuracy as the standard protocols define it: LFW verification and open-set identification.

Images go through the device pipeline (Haar, the largest face, the model's preprocessing); where
no face is found the whole image is used as an already-cropped face, and counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import SiamfaceError
from ..gallery import Gallery, PhotoRecord
from ..images import is_image_path, read_image
from ..loop.detect import Detector, face_or_whole
from ..loop.embed import Embedder
from . import lfw_metrics as metrics
from .pairs import Pair, image_path


@dataclass
class Embedded:
    vectors: dict[Path, np.ndarray]
    fallbacks: int  # images where no face was found and the whole image was used
    seconds_per_image: float


def embed_images(paths: Iterable[Path], detector: Detector, embedder: Embedder, progress: bool = True) -> Embedded:
    """Each distinct image once, however many pairs or probes name it."""
    unique = list(dict.fromkeys(paths))
    vectors, fallbacks = {}, 0
    started = time.perf_counter()
    for path in tqdm(unique, desc="embedding", unit="image", disable=not progress):
        image = read_image(path)
        box, fell_back = face_or_whole(detector, image, embedder.contract.box_margin)
        fallbacks += fell_back
        vectors[path] = embedder.embed_faces(image, [box])[0]
    elapsed = time.perf_counter() - started
    return Embedded(vectors, fallbacks, elapsed / max(len(unique), 1))


def pair_paths(pairs: Sequence[Pair], images: Path, pairs_file: Path) -> list[tuple[Path, Path]]:
    """Image paths of each pair; a missing image is an error naming the pairs line."""
    resolved = []
    for pair in pairs:
        first, second = image_path(images, *pair.first), image_path(images, *pair.second)
        for path in (first, second):
            if not path.is_file():
                raise SiamfaceError(f"{pairs_file}: line {pair.line}: image {path} not found")
        resolved.append((first, second))
    return resolved


@dataclass
class Verification:
    scores: np.ndarray
    labels: np.ndarray
    report: dict


def verification(
    pairs: Sequence[Pair], paths: Sequence[tuple[Path, Path]], embedded: Embedded, model_sha256: str
) -> Verification:
    v = embedded.vectors
    scores = np.array([float(v[a] @ v[b]) for a, b in paths])
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    kfold = metrics.kfold_accuracy(scores, labels, folds)
    best, best_accuracy = metrics.best_threshold(scores, labels)
    tar2, thr2 = metrics.tar_at_far(scores, labels, 1e-2)
    tar3, thr3 = metrics.tar_at_far(scores, labels, 1e-3)
    report = {
        "accuracy": kfold.accuracy,
        "std": kfold.std,
        "auc": metrics.auc(scores, labels),
        "tar_at_far_1e-2": tar2,
        "tar_at_far_1e-3": tar3,
        "threshold_at_far_1e-2": thr2,
        "threshold_at_far_1e-3": thr3,
        "best_threshold": best,
        "accuracy_at_best_threshold": best_accuracy,
        "fold_thresholds": list(kfold.fold_thresholds),
        "pairs": len(pairs),
        "images": len(embedded.vectors),
        "fallbacks": embedded.fallbacks,
        "seconds_per_image": embedded.seconds_per_image,
        "model_sha256": model_sha256,
    }
    return Verification(scores, labels, report)


@dataclass
class Identification:
    genuine_best: np.ndarray  # enrolled probes: best score over all enrolled people
    genuine_correct: np.ndarray  # enrolled probes: was the best person the right one
    stranger_best: np.ndarray  # never-enrolled probes: best score
    report: dict


def identity_photos(images: Path, more_than: int) -> dict[str, list[Path]]:
    """Each identity folder's photos (<name>/<name>_NNNN.jpg, in name order), for the identities
    with more than ``more_than`` photos."""
    folders = sorted(d for d in images.iterdir() if d.is_dir()) if images.is_dir() else []
    if not folders:
        raise SiamfaceError(f"{images}: no identity folders (expected <name>/<name>_NNNN.jpg)")
    people = {d.name: sorted(p for p in d.iterdir() if is_image_path(p)) for d in folders}
    return {name: photos for name, photos in people.items() if len(photos) > more_than}


def embedded_gallery(embedder: Embedder, people: dict[str, list[Path]], vectors: dict[Path, np.ndarray]) -> Gallery:
    """The gallery a user would get by enrolling ``people`` from these photos, from their embeddings."""
    gallery = Gallery(embedder.fingerprint, embedder.contract.preprocess_version, embedder.contract.embedding_size)
    gallery.people = {
        name: [PhotoRecord(str(p), "", "", vectors[p]) for p in photos] for name, photos in people.items()
    }
    return gallery


def split_identities(images: Path, enroll_count: int, max_people: int | None) -> tuple[dict, dict]:
    """(enrolled name -> (gallery photos, probe photos), stranger name -> photos).

    Identities with more than ``enroll_count`` photos alternate between enrolled and stranger in
    name order, so the split is the same on every run and needs no random seed.
    """
    usable = list(identity_photos(images, enroll_count).items())
    if max_people:
        usable = usable[:max_people]
    if len(usable) < 4:
        raise SiamfaceError(f"{images}: {len(usable)} identities with more than {enroll_count} photos, need at least 4")
    enrolled = {n: (photos[:enroll_count], photos[enroll_count:]) for n, photos in usable[0::2]}
    strangers = dict(usable[1::2])
    return enrolled, strangers


def identification(
    images: Path,
    detector: Detector,
    embedder: Embedder,
    threshold: float,
    margin: float,
    enroll_count: int = 2,
    max_people: int | None = None,
    progress: bool = True,
) -> Identification:
    from ..loop.match import UNKNOWN, Matcher

    enrolled, strangers = split_identities(images, enroll_count, max_people)
    every = [p for g, probes in enrolled.values() for p in (*g, *probes)] + [p for ps in strangers.values() for p in ps]
    embedded = embed_images(every, detector, embedder, progress)
    v = embedded.vectors
    gallery = embedded_gallery(embedder, {n: photos for n, (photos, _) in enrolled.items()}, v)
    matcher = Matcher(gallery, threshold, margin)
    probe_names = [n for n, (_, probes) in enrolled.items() for _ in probes]
    probes = np.stack([v[p] for _, probe_list in enrolled.values() for p in probe_list])
    stranger_probes = np.stack([v[p] for ps in strangers.values() for p in ps])

    genuine_scores = matcher.person_scores(probes)
    genuine_best = genuine_scores.max(axis=1)
    genuine_correct = np.array([matcher.names[i] == n for i, n in zip(genuine_scores.argmax(axis=1), probe_names)])
    stranger_best = matcher.person_scores(stranger_probes).max(axis=1)
    stranger_named = sum(m.name != UNKNOWN for m in matcher.match(stranger_probes))
    genuine_named_right = sum(m.name == n for m, n in zip(matcher.match(probes), probe_names))

    def dir_at(far: float) -> tuple[float, float]:
        t = metrics.threshold_at_far(stranger_best, far)
        return float(metrics.detection_identification_rate(genuine_best, genuine_correct, t)[0]), t

    dir2, thr2 = dir_at(1e-2)
    dir3, thr3 = dir_at(1e-3)
    report = {
        "rank1": float(genuine_correct.mean()),
        "false_accept_rate": stranger_named / len(stranger_probes),
        "true_accept_rate": genuine_named_right / len(probes),
        "threshold": threshold,
        "margin": margin,
        "dir_at_far_1e-2": dir2,
        "dir_at_far_1e-3": dir3,
        "threshold_at_far_1e-2": thr2,
        "threshold_at_far_1e-3": thr3,
        "enrolled_people": len(enrolled),
        "photos_per_person": enroll_count,
        "genuine_probes": len(probes),
        "strangers": len(strangers),
        "stranger_probes": len(stranger_probes),
        "images": len(v),
        "fallbacks": embedded.fallbacks,
        "seconds_per_image": embedded.seconds_per_image,
        "model_sha256": embedder.fingerprint,
    }
    return Identification(genuine_best, genuine_correct, stranger_best, report)
