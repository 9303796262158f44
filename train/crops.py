"""Real face crops for quantization and checks, taken through the device preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from siamface.edge.contract import ModelContract
from siamface.edge.errors import SiamfaceError
from siamface.edge.images import is_image_path, read_image
from siamface.edge.loop.detect import HaarDetector, face_or_whole
from siamface.edge.loop.preprocess import crop_face

from .camera_views import camera_views


def calibration_faces(
    folder: Path, contract: ModelContract, count: int, progress: bool = True, views: int = 1
) -> tuple[np.ndarray, list[str], int]:
    """Up to ``count`` uint8 crops from the images under ``folder`` (spread over its files), their paths,
    and how many had no detected face (whole image used). With ``views`` > 1 each photo gives that
    many crops, one after the other: the photo's own and camera-like views of it (camera_views)."""
    if not folder.is_dir():
        raise SiamfaceError(f"--calibration {folder}: no such folder (expected a folder of face photos)")
    photos = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))
    if not photos:
        raise SiamfaceError(f"--calibration {folder}: no images found (expected a folder of face photos)")
    if len(photos) > count:  # every k-th photo, so all people in the folder are represented
        photos = [photos[i] for i in np.linspace(0, len(photos) - 1, count).round().astype(int)]
    detector, crops, fallbacks = HaarDetector(), [], 0
    rng = np.random.default_rng(0)
    for path in tqdm(photos, desc="calibration faces", unit="photo", disable=not progress):
        image = read_image(path)
        box, fell_back = face_or_whole(detector, image, contract.box_margin)
        fallbacks += fell_back
        if views > 1:
            crops.extend(camera_views(image, box, contract, views, rng))
        else:
            crops.append(crop_face(image, box, contract))
    return np.asarray(crops), [str(p) for p in photos], fallbacks
