"""Reading images and hashing files, with errors that name the file."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import cv2
import imagesize
import numpy as np

from .errors import SiamfaceError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"})


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


# The most pixels an image is decoded to (a 48-megapixel phone photo is 144 MB as BGR, too much for a
# small board). A larger JPEG is decoded at 1/2, 1/4 or 1/8 of its size, which libjpeg does without
# ever holding the full image; a larger image of any other format is refused.
MAX_PIXELS = 25_000_000
_REDUCED = (
    (1, cv2.IMREAD_COLOR),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (8, cv2.IMREAD_REDUCED_COLOR_8),
)


def _check_regular(path: str | Path) -> None:
    """A FIFO or a device named as a photo would block a read or never end it: regular files only."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SiamfaceError(f"{path}: image not found") from None
    except OSError as exc:
        raise SiamfaceError(f"{path}: cannot read image ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO or a device?)"
        raise SiamfaceError(f"{path}: {what}, expected an image file")


def read_image(path: str | Path) -> np.ndarray:
    """Return the image as BGR uint8 (H, W, 3), reduced to at most MAX_PIXELS; gray files are expanded
    to three channels."""
    _check_regular(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise SiamfaceError(f"{path}: cannot read image ({exc.strerror})") from None
    try:
        width, height = imagesize.get(str(path))  # from the header alone; -1 for a format it does not know
    except Exception:  # a damaged header: imdecode below says so in the usual words
        width = height = -1
    flag = cv2.IMREAD_COLOR
    if width * height > MAX_PIXELS:
        jpeg = data[:3].tobytes() == b"\xff\xd8\xff"
        fitting = [flag for factor, flag in _REDUCED if jpeg and width * height <= MAX_PIXELS * factor * factor]
        if not fitting:
            raise SiamfaceError(
                f"{path}: {width}x{height} pixels, above the {MAX_PIXELS / 1e6:.0f}-megapixel limit"
                f"{' even at 1/8 of its size' if jpeg else ' (only JPEG photos are read reduced)'}: make it smaller"
            )
        flag = fitting[0]
    image = cv2.imdecode(data, flag) if data.size else None
    if image is None:
        raise SiamfaceError(f"{path}: not a readable image (empty, corrupt or not an image format OpenCV knows)")
    return image


def file_sha256(path: str | Path) -> str:
    _check_regular(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
