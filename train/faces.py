"""Face crops for training, cut once by the device's own detector and preprocessing and cached.

Crops are stored wider than the model's view (``CONTEXT`` of the box on each side instead of the
contract's margin) so augmentation can shift, scale and rotate the box without running out of
picture; ``view_fraction`` says where the device's crop sits inside them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siamface.edge.atomic import write_atomically
from siamface.edge.contract import PREPROCESS_VERSION, ModelContract
from siamface.edge.images import is_image_path, read_image
from siamface.edge.loop.detect import PHOTO_SEARCH, DetectorSettings, HaarDetector, face_or_whole
from siamface.edge.loop.preprocess import crop_face

from .cache import cache_key, file_stamps

log = logging.getLogger(__name__)

CONTEXT = 0.5  # box fraction kept around the face on each side in the cache


@dataclass
class Root:
    path: Path
    cropped: bool = False  # images are already face crops: use the whole image when Haar finds nothing
    weight: float = 1.0  # sampling weight of this root's identities

    def __post_init__(self) -> None:
        # One spelling per folder, so cache keys do not depend on how the path was written.
        self.path = Path(self.path).resolve()


@dataclass
class FaceSet:
    crops: np.ndarray  # (N, S, S, 3) uint8 BGR, the face box plus CONTEXT on each side
    labels: np.ndarray  # (N,) identity index, -1 for unlabelled faces
    identities: list[str]
    sample_weight: np.ndarray  # (N,) per-image sampling weight (root weight shared over its identities)
    paths: list[str]


def context_contract(contract: ModelContract) -> ModelContract:
    """The cache's crop: same box (or alignment) and colour handling, a wider margin, a larger size.

    An aligned chip's padding scales like a box margin, so the device's view sits in the middle of
    the cached chip in both cases."""
    scale = (1 + 2 * CONTEXT) / (1 + 2 * contract.crop_padding)
    size = round(max(contract.width, contract.height) * scale)
    return ModelContract(
        size, size, "bgr", "nhwc", (0.0,), (1.0,), CONTEXT, contract.embedding_size, alignment=contract.alignment
    )


def view_fraction(contract: ModelContract) -> float:
    """Side of the device crop as a fraction of the cached crop's side."""
    return (1 + 2 * contract.crop_padding) / (1 + 2 * CONTEXT)


def list_photos(root: Path, labelled: bool) -> list[tuple[str, Path]]:
    if not labelled:
        return [("", p) for p in sorted(root.rglob("*")) if p.is_file() and is_image_path(p)]
    people = sorted(d for d in root.iterdir() if d.is_dir())
    return [(d.name, p) for d in people for p in sorted(d.iterdir()) if is_image_path(p)]


def select_photos(photos: list[tuple[str, Path]], per_identity: int | None) -> list[tuple[str, Path]]:
    """At most ``per_identity`` photos of each identity, the first in name order."""
    if not per_identity:
        return photos
    counts: dict[str, int] = {}
    kept = []
    for name, path in photos:
        counts[name] = counts.get(name, 0) + 1
        if counts[name] <= per_identity:
            kept.append((name, path))
    return kept


def load_root(
    root: Root,
    contract: ModelContract,
    cache_dir: Path,
    labelled: bool = True,
    per_identity: int | None = None,
    detector_settings: DetectorSettings = DetectorSettings(),
    progress: bool = True,
) -> tuple[list[str], np.ndarray, list[str], int]:
    """(identity per face, crops, paths, photos without a face) for one root, from the cache when it can."""
    photos = select_photos(list_photos(root.path, labelled), per_identity)
    ctx = context_contract(contract)
    stamp = file_stamps(p for _, p in photos)
    key = cache_key(PREPROCESS_VERSION, ctx.to_metadata(), root.cropped, detector_settings, PHOTO_SEARCH, stamp)
    file = cache_dir / f"faces-{root.path.name}-{key}.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as data:
            return list(data["names"]), data["crops"], list(data["paths"]), int(data["no_face"])
    detector = HaarDetector(detector_settings)
    names, crops, paths, no_face = [], [], [], 0
    for name, path in tqdm(photos, desc=f"cropping {root.path.name}", unit="photo", leave=False, disable=not progress):
        image = read_image(path)
        box, fell_back = face_or_whole(detector, image, contract.box_margin)
        no_face += fell_back
        if fell_back and not root.cropped:
            continue
        crops.append(crop_face(image, box, ctx))
        names.append(name)
        paths.append(str(path))
    crops_array = np.asarray(crops, np.uint8).reshape(-1, ctx.height, ctx.width, 3)
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(
        file,
        lambda h: np.savez(
            h,
            names=np.asarray(names, dtype=str),
            crops=crops_array,
            paths=np.asarray(paths, dtype=str),
            no_face=no_face,
        ),
    )
    return names, crops_array, paths, no_face


def load_faces(
    roots: Sequence[Root],
    contract: ModelContract,
    cache_dir: Path,
    labelled: bool = True,
    per_identity: int | None = None,
    min_photos: int = 2,
    progress: bool = True,
) -> FaceSet:
    """All roots' faces; identities with fewer than ``min_photos`` faces are left out of labelled sets."""
    crops, labels, weights, paths, identities = [], [], [], [], []
    for root in roots:
        names, root_crops, root_paths, no_face = load_root(
            root, contract, cache_dir, labelled, per_identity, progress=progress
        )
        log.info(
            "%s: %d faces, %d photos without a detected face%s",
            root.path,
            len(root_crops),
            no_face,
            " (whole image used)" if root.cropped else " (skipped)",
        )
        if not labelled:
            crops.append(root_crops)
            labels.append(np.full(len(root_crops), -1))
            weights.append(np.full(len(root_crops), root.weight))
            paths += root_paths
            continue
        names_array = np.asarray(names)
        keep = [n for n in dict.fromkeys(names) if (names_array == n).sum() >= min_photos]
        index = {n: len(identities) + i for i, n in enumerate(keep)}
        mask = np.array([n in index for n in names], bool)
        identities += [f"{root.path.name}/{n}" for n in keep]
        crops.append(root_crops[mask])
        labels.append(np.array([index[n] for n in names_array[mask]], np.int64))
        # A root's weight is shared by its identities, so a big root does not drown a small one.
        weights.append(np.full(mask.sum(), root.weight / max(len(keep), 1)))
        paths += [p for p, m in zip(root_paths, mask) if m]
    if not crops:
        raise ValueError("no roots given")
    return FaceSet(np.concatenate(crops), np.concatenate(labels), identities, np.concatenate(weights), paths)


def to_model_colour(face_bgr: np.ndarray, contract: ModelContract) -> np.ndarray:
    if contract.channels == "rgb":
        return cv2.cvtColor(face_bgr, cv2.COLOR_BGR2RGB)
    if contract.channels == "gray":
        return cv2.cvtColor(face_bgr, cv2.COLOR_BGR2GRAY)[:, :, None]
    return face_bgr
