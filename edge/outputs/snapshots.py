"""Crops of unknown faces for the owner to look at. Off by default: these are photos of strangers,
kept on the device, capped in number and age."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from ..atomic import write_atomically
from ..errors import SiamfaceError
from ..loop.preprocess import expand_box


class Snapshots:
    def __init__(self, folder: Path, max_files: int, max_age_days: float) -> None:
        self.folder = folder
        self._max_files = max_files
        self._max_age = max_age_days * 86400
        try:  # found out now, not at the first stranger (a unit's ProtectSystem= makes most paths read-only)
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            raise SiamfaceError(
                f"snapshots.folder: {folder} cannot be written ({exc.strerror}); choose a writable folder "
                "(under systemd, one in ReadWritePaths=) or set it to null"
            ) from None

    @staticmethod
    def crop(frame: np.ndarray, box) -> np.ndarray:
        """The face with some context, copied out of the frame (frames are reused by some cameras)."""
        x0, y0, x1, y1 = expand_box(box, 0.3)
        h, w = frame.shape[:2]
        return frame[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)].copy()

    def save(self, crop: np.ndarray, name: str, prune: bool = True) -> Path:
        """``prune``: False when saving several in a row, then ``prune()`` once."""
        path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}_{time.monotonic_ns() % 10**6:06d}_{name}.jpg"
        _, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        write_atomically(path, lambda handle: handle.write(data.tobytes()))
        if prune:
            self.prune()
        return path

    def find(self, name: str) -> Path | None:
        """The crop saved as ``name`` (a saved path's stem), found by listing the folder: a name from
        outside (a web request) never becomes part of a path."""
        return next((p for p in self.folder.glob("*.jpg") if p.stem == name), None)

    def prune(self) -> None:
        files = sorted(self.folder.glob("*.jpg"), key=lambda p: p.stat().st_mtime)
        now = time.time()
        for old in [p for p in files if now - p.stat().st_mtime > self._max_age]:
            old.unlink(missing_ok=True)
        files = [p for p in files if p.exists()]
        for extra in files[: max(0, len(files) - self._max_files)]:
            extra.unlink(missing_ok=True)
