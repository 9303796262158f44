"""Turning people's photos into gallery embeddings; only new or changed photos are embedded."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from .errors import SiamfaceError
from .gallery import Gallery, PhotoRecord
from .images import file_sha256, read_image
from .loop.detect import Detector, photo_faces, portrait_face
from .loop.embed import Embedder

log = logging.getLogger(__name__)


@dataclass
class EnrollReport:
    embedded: int = 0
    reused: int = 0
    skipped: list[str] = field(default_factory=list)  # one line per photo that gave no embedding


def empty_gallery(embedder: Embedder) -> Gallery:
    return Gallery(embedder.fingerprint, embedder.contract.preprocess_version, embedder.contract.embedding_size)


def enroll(
    gallery: Gallery | None,
    people: Mapping[str, Sequence[Path]],
    detector: Detector,
    embedder: Embedder,
    progress: bool = True,
    gallery_path: str | Path = "gallery",
) -> tuple[Gallery, EnrollReport]:
    """Return a new gallery with ``people`` (re)enrolled from their photos, and what happened.

    People already in ``gallery`` and not named here are kept, and so are everyone's learned
    templates (learn.py). A gallery made with another model cannot mix its embeddings with this
    model's: everyone in it is embedded again from the photos it recorded (learned templates, which
    have no photo, are dropped), and if anyone's photos are gone, nothing is changed and the error
    says what to do.
    """
    same_model = gallery is not None and (gallery.model_sha256, gallery.preprocess_version) == (
        embedder.fingerprint,
        embedder.contract.preprocess_version,
    )
    result = empty_gallery(embedder)
    if same_model:
        result.people = {name: records for name, records in gallery.people.items() if name not in people}
        result.learned = {name: list(records) for name, records in gallery.learned.items()}
    elif gallery is not None and gallery.people:
        others = {name: [Path(r.path) for r in records] for name, records in gallery.people.items()}
        others = {name: photos for name, photos in others.items() if name not in people}
        lost = sorted(name for name, photos in others.items() if not any(p.is_file() for p in photos))
        if lost:
            raise SiamfaceError(
                f"{gallery_path}: made with another model, and the photos of {', '.join(lost)} are gone, so they "
                "cannot be embedded again: enrol them again with --person NAME PHOTO ..., remove them with "
                "'face-edge gallery remove NAME', or move the gallery aside to start a new one; nothing was changed"
            )
        log.warning("gallery was made with another model: everyone in it is embedded again from their photos")
        if any(gallery.learned.values()):
            log.warning("the templates learned from the camera were made by the other model: they are dropped")
        people = {**{n: [p for p in photos if p.is_file()] for n, photos in others.items()}, **people}
    known = {(r.path, r.sha256): r for recs in (gallery.people.values() if same_model else ()) for r in recs}
    report = EnrollReport()
    total = sum(len(photos) for photos in people.values())
    with tqdm(total=total, desc="enrolling", unit="photo", disable=not progress) as bar:
        for name, photos in people.items():
            records = []
            for photo in photos:
                bar.update(1)
                record = _embed_photo(Path(photo), known, detector, embedder, report)
                if record is not None:
                    records.append(record)
            if not records:
                raise SiamfaceError(
                    f"people.{name}: none of {len(photos)} photo(s) gave one clear face; nothing enrolled "
                    f"({'; '.join(report.skipped[-3:])})"
                )
            result.people[name] = records
    return result, report


def _embed_photo(
    photo: Path, known: dict, detector: Detector, embedder: Embedder, report: EnrollReport
) -> PhotoRecord | None:
    try:
        digest = file_sha256(photo)
    except OSError as exc:
        report.skipped.append(f"{photo}: cannot read ({exc.strerror})")
        return None
    except SiamfaceError as exc:
        report.skipped.append(str(exc))
        return None
    path = str(photo.absolute())
    if (path, digest) in known:
        report.reused += 1
        return known[(path, digest)]
    try:
        image = read_image(photo)
    except SiamfaceError as exc:
        report.skipped.append(str(exc))
        return None
    boxes = photo_faces(detector, image)
    box = portrait_face(boxes)
    if box is None:
        what = "no face found" if len(boxes) == 0 else f"{len(boxes)} faces found, none twice the size of the rest"
        report.skipped.append(f"{photo}: {what} (expected one face)")
        return None
    report.embedded += 1
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return PhotoRecord(path, digest, when, embedder.embed_faces(image, box[None])[0])
