"""What the page changes: naming a visitor, correcting a named event, removing a person. Each is a
read-change-write of the gallery under its lock, written atomically; the loop is then told to take
the new gallery between frames (board.gallery_changed), without a restart."""

from __future__ import annotations

import json
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import gallery as gallery_io
from ..atomic import write_atomically
from ..config import Config, check_name
from ..enroll import enroll
from ..errors import SiamfaceError
from ..gallery import Gallery, PhotoRecord
from ..learn import forget
from ..loop.detect import make_detector
from ..loop.embed import Embedder
from ..loop.match import Matcher
from ..outputs.snapshots import Snapshots
from .board import PageEvent
from .visitors import Visitors

NAME_LENGTH = 64
ENROLLED_CROPS = 3  # a visitor's largest faces, enrolled as photos


def people_folder(config: Config) -> Path:
    """Where photos enrolled from the page are kept (so that another model can embed them again)."""
    return config.state_dir / "people"


def page_photos(records: list[PhotoRecord], config: Config) -> list[Path]:
    """Those of ``records`` whose photos the page keeps (the crops it enrolled)."""
    folder = people_folder(config).absolute()
    return [Path(r.path) for r in records if Path(r.path).parent == folder]


def checked_name(text: str) -> str:
    name = check_name(text.strip(), "name")
    if len(name) > NAME_LENGTH:
        raise SiamfaceError(f"name: {len(name)} characters, expected at most {NAME_LENGTH}")
    return name


def name_visitor(
    config: Config,
    embedder: Embedder,
    visitors: Visitors,
    crops: Snapshots,
    visitor_id: str,
    name: str,
    others: list[tuple[str, np.ndarray]],
) -> str:
    """Enrol a visitor's crops as ``name`` (added to that person's photos if enrolled) and forget
    the visitor; what was done, in one line. ``others``: recent named tracks' (name, template). A
    crop is enrolled only if every one of them would still be named as it was: a stranger who looks
    like someone enrolled must not take that person's events. The largest such crops are taken."""
    name = checked_name(name)
    visitor = visitors.get(visitor_id)
    if visitor is None:
        raise SiamfaceError(f"visitor {visitor_id}: not found (named or forgotten already?)")
    found = [path for _, crop in visitor.crops if (path := crops.find(crop)) is not None]
    if not found:
        raise SiamfaceError(f"visitor {visitor_id}: no crop of their face is left in the store to enrol")
    folder = people_folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for path in found:  # copies: the crop store prunes, an enrolled photo stays until its person is removed
        photos.append(folder / f"{secrets.token_hex(8)}.jpg")
        shutil.copyfile(path, photos[-1])
    used: set[str] = set()
    try:
        with gallery_io.locked(config.gallery_path):
            gallery = gallery_io.load(config.gallery_path)
            new, _ = enroll(
                gallery, {name: photos}, make_detector(config.detector), embedder, False, config.gallery_path
            )
            chosen = _harmless(new, name, gallery.people.get(name, []), new.people[name], others, config)
            if not chosen:
                taken = sorted({n for n, _ in others if n != name})
                raise SiamfaceError(
                    f"visitor {visitor_id}: every crop of them would also be taken for {', '.join(taken)}, so "
                    f"{name} was not enrolled from them: enrol a clear photo instead (face-edge enroll --person)"
                )
            new.people[name] = [*gallery.people.get(name, []), *chosen]
            used = {r.path for r in chosen}
            gallery_io.save(new, config.gallery_path)
    finally:
        for photo in photos:  # a crop not enrolled (no face found, or taken for someone else) is not kept
            if str(photo.absolute()) not in used:
                photo.unlink(missing_ok=True)
    visitors.remove(visitor_id)
    return f"{visitor_id} is now {name}: {len(used)} of {len(photos)} crop(s) enrolled"


def _harmless(
    gallery: Gallery,
    name: str,
    before: list[PhotoRecord],
    candidates: list[PhotoRecord],
    others: list[tuple[str, np.ndarray]],
    config: Config,
) -> list[PhotoRecord]:
    """The candidates, largest face first, that leave every other recent track named as it was, at
    most ENROLLED_CROPS of them."""
    others = [(n, t) for n, t in others if n != name]
    chosen: list[PhotoRecord] = []
    for record in candidates:
        if len(chosen) == ENROLLED_CROPS:
            break
        gallery.people[name] = [*before, *chosen, record]
        matcher = Matcher(gallery, config.tracking.threshold, config.margin)
        if others:
            names = [m.name for m in matcher.match(np.stack([t for _, t in others]))]
            if names != [n for n, _ in others]:
                continue
        chosen.append(record)
    return chosen


def forget_visitor(visitors: Visitors, crops: Snapshots, visitor_id: str) -> str:
    """A stranger the owner does not want kept: their templates and crops are deleted."""
    visitor = visitors.get(visitor_id)
    if visitor is None:
        raise SiamfaceError(f"visitor {visitor_id}: not found (named or forgotten already?)")
    for _, crop in visitor.crops:
        path = crops.find(crop)
        if path is not None:
            path.unlink(missing_ok=True)
    visitors.remove(visitor_id)
    return f"{visitor_id} forgotten, with {len(visitor.crops)} crop(s)"


def correct(config: Config, visitors: Visitors, event: PageEvent) -> str:
    """A named event was wrong: the person's learned templates that named it are removed (photos
    enrolled on purpose stay), the correction is recorded, and the face becomes a visitor, to be
    named on the Visitors page."""
    if event.template is None or event.corrected:
        raise SiamfaceError(f"event {event.id}: not a named event, or corrected already")
    removed = 0
    with gallery_io.locked(config.gallery_path):
        gallery = gallery_io.load(config.gallery_path)
        learned = gallery.learned.get(event.name, [])
        keep = [r for r in learned if float(r.embedding @ event.template) < config.tracking.threshold]
        removed = len(learned) - len(keep)
        if removed:
            gallery.learned[event.name] = keep
            gallery_io.save(gallery, config.gallery_path)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {
        "corrected_at": when,
        "event_time": event.time,
        "track": event.track,
        "named": event.name,
        "learned_removed": removed,
    }
    log_path = config.state_dir / "corrections.jsonl"
    old = log_path.read_bytes() if log_path.exists() else b""
    write_atomically(log_path, lambda handle: handle.write(old + json.dumps(record).encode() + b"\n"))
    visitor = visitors.match(event.template)
    visitors.record(visitor, np.asarray(event.template), [(0, event.crop)] if event.crop else [], when)
    event.corrected = (
        f"{removed} learned template(s) of {event.name} removed" if removed else f"recorded; {event.name}'s photos kept"
    ) + f"; the face is visitor {visitor}"
    return f"event {event.id}: {event.corrected}"


def remove_person(config: Config, name: str) -> str:
    """Remove a person and what the page enrolled of them (the photos it kept)."""
    with gallery_io.locked(config.gallery_path):
        gallery = gallery_io.load(config.gallery_path)
        if name not in gallery.people:
            raise SiamfaceError(f"{config.gallery_path}: no person {name!r}")
        ours = page_photos(gallery.people[name], config)
        forget(gallery, name, learned_only=False)
        gallery_io.save(gallery, config.gallery_path)
    for photo in ours:
        photo.unlink(missing_ok=True)
    return f"{name} removed; {len(gallery.people)} people left"
