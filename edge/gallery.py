"""The gallery file: enrolled people as embeddings, never photos.

Stored as a NumPy .npz (loaded with allow_pickle=False) holding the embedding matrix and a JSON
header: model fingerprint, preprocessing version, and per person the photos (path, SHA-256, time)
each embedding came from, so re-enrolment embeds only what changed; and the templates the device
learned from the camera (learn.py), each with where and when it was learned. A gallery without
learned templates is written in format 1, which older runtimes read.
"""

from __future__ import annotations

import fcntl
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import write_atomically
from .errors import SiamfaceError

FORMAT = 1
LEARNED_FORMAT = 2  # format 1 plus "learned" in the header, their rows after the photos'


@dataclass
class PhotoRecord:
    path: str
    sha256: str
    enrolled_at: str  # ISO 8601, UTC
    embedding: np.ndarray


@dataclass
class LearnedRecord:
    """A template learned from the camera (learn.py): where and when, never the picture."""

    learned_at: str  # ISO 8601, UTC
    camera: str
    track: int
    score: float  # the track's score for the person when it was learned
    embedding: np.ndarray


@dataclass
class Gallery:
    model_sha256: str
    preprocess_version: int
    embedding_size: int
    people: dict[str, list[PhotoRecord]] = field(default_factory=dict)
    learned: dict[str, list[LearnedRecord]] = field(default_factory=dict)  # only of people in ``people``

    def names(self) -> list[str]:
        return sorted(self.people)

    def matrix(self, learned: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(embeddings (M, D), owner index per row, names), rows grouped by person in name order;
        ``learned``: with the learned templates, else the enrolled photos' alone."""
        names = [n for n in self.names() if self.people[n]]
        templates = {n: [*self.people[n], *(self.learned.get(n, []) if learned else [])] for n in names}
        rows = [rec.embedding for n in names for rec in templates[n]]
        owners = [i for i, n in enumerate(names) for _ in templates[n]]
        if not rows:
            return np.zeros((0, self.embedding_size), np.float32), np.zeros(0, np.int64), names
        return np.stack(rows).astype(np.float32), np.asarray(owners, np.int64), names

    def check_model(
        self, model_sha256: str, preprocess_version: int, gallery_path: str | Path, model_path: str | Path
    ) -> None:
        if self.model_sha256 != model_sha256 or self.preprocess_version != preprocess_version:
            raise SiamfaceError(
                f"{gallery_path}: gallery was enrolled with model sha256 {self.model_sha256[:12]}… "
                f"(preprocessing v{self.preprocess_version}), but {model_path} is {model_sha256[:12]}… "
                f"(v{preprocess_version}); embeddings of different models cannot be compared: "
                f"re-enrol with 'face-edge enroll'"
            )


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold the gallery's lock for a read-change-write (enrol, remove), so that two at once both land:
    the second waits, then reads what the first wrote. Readers need no lock: writes are atomic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save(gallery: Gallery, path: str | Path) -> None:
    learned = {name: gallery.learned[name] for name in gallery.names() if gallery.learned.get(name)}
    embeddings = [rec.embedding for name in gallery.names() for rec in gallery.people[name]]
    embeddings += [rec.embedding for records in learned.values() for rec in records]
    header = {
        "format": LEARNED_FORMAT if learned else FORMAT,
        "model_sha256": gallery.model_sha256,
        "preprocess_version": gallery.preprocess_version,
        "embedding_size": gallery.embedding_size,
        "people": {
            name: [{"path": r.path, "sha256": r.sha256, "enrolled_at": r.enrolled_at} for r in gallery.people[name]]
            for name in gallery.names()
        },
    }
    if learned:
        header["learned"] = {
            name: [{"learned_at": r.learned_at, "camera": r.camera, "track": r.track, "score": r.score} for r in recs]
            for name, recs in learned.items()
        }
    matrix = (
        np.stack(embeddings).astype(np.float32) if embeddings else np.zeros((0, gallery.embedding_size), np.float32)
    )
    header_bytes = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda handle: np.savez(handle, header=header_bytes, embeddings=matrix))


def load(path: str | Path) -> Gallery:
    path = Path(path)
    if not path.is_file():
        raise SiamfaceError(f"{path}: gallery file not found; create it with 'face-edge enroll'")
    # A damaged gallery cannot be enrolled into either: the way out is to move it aside.
    fix = f"move it aside (mv {path} {path}.broken) and enrol again with 'face-edge enroll'"
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            matrix = np.array(data["embeddings"], dtype=np.float32)
    except (
        OSError,
        EOFError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
        io.UnsupportedOperation,
    ) as exc:
        raise SiamfaceError(f"{path}: not a readable siamface gallery ({exc or 'empty file'}); {fix}") from None
    if not isinstance(header, dict) or header.get("format") not in (FORMAT, LEARNED_FORMAT):
        found = header.get("format") if isinstance(header, dict) else header
        raise SiamfaceError(
            f"{path}: gallery format {found!r}, this runtime reads formats {FORMAT} and {LEARNED_FORMAT}; {fix}"
        )
    rows = iter(matrix)
    people = {}
    try:
        for name, records in header["people"].items():
            people[name] = [PhotoRecord(r["path"], r["sha256"], r["enrolled_at"], next(rows)) for r in records]
        learned = {
            name: [
                LearnedRecord(r["learned_at"], r["camera"], int(r["track"]), float(r["score"]), next(rows))
                for r in recs
            ]
            for name, recs in header.get("learned", {}).items()
        }
        gallery = Gallery(
            str(header["model_sha256"]),
            int(header["preprocess_version"]),
            int(header["embedding_size"]),
            people,
            learned,
        )
    except StopIteration:
        raise SiamfaceError(f"{path}: gallery header lists more photos than it has embeddings; {fix}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SiamfaceError(f"{path}: gallery header damaged ({type(exc).__name__}: {exc}); {fix}") from None
    if matrix.ndim != 2 or (len(matrix) and matrix.shape[1] != gallery.embedding_size):
        raise SiamfaceError(
            f"{path}: embeddings of shape {matrix.shape}, the header says {gallery.embedding_size} wide; {fix}"
        )
    return gallery
