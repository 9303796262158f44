"""Reading images and hashing files, with errors that name the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from .errors import SiamfaceError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"})


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | Path) -> np.ndarray:
    """Return the image as BGR uint8 (H, W, 3); gray files are expanded to three channels."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise SiamfaceError(f"{path}: image not found") from None
    except OSError as exc:
        raise SiamfaceError(f"{path}: cannot read image ({exc.strerror})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise SiamfaceError(f"{path}: not a readable image (empty, corrupt or not an image format OpenCV knows)")
    return image


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
