"""Unknown tracks grouped into recurring visitors: a stranger who comes back gets the same id.

A track announced unknown is matched against every visitor's templates (track templates, the mean
of a track's usable frames); at ``match.stranger_threshold`` or above it is that visitor, else a new
one, the rule the tracker uses for one stranger seen twice. Kept in ``visitors.npz`` under the state
folder: embeddings, counts, times and the ids of crops in the crop store, never pictures.
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import write_atomically
from ..errors import SiamfaceError

FORMAT = 1
TEMPLATES = 12  # per visitor: enough views of a face to match it again, a bounded file
CROPS = 8  # per visitor, the largest faces first
VISITOR_ID = re.compile(r"v[0-9]{1,9}")


@dataclass
class Visitor:
    id: str
    first_seen: str  # ISO 8601, UTC
    last_seen: str
    visits: int = 0
    templates: list[np.ndarray] = field(default_factory=list)
    crops: list[tuple[int, str]] = field(default_factory=list)  # (face side in pixels, crop id), largest first


class Visitors:
    def __init__(self, path: Path, threshold: float) -> None:
        self.path = path
        self.threshold = threshold
        self.all: dict[str, Visitor] = {}
        self._next = 1
        self.lock = threading.RLock()  # the loop records visits, the page names and lists them
        if path.exists():
            self._load()

    def match(self, template: np.ndarray) -> str:
        """The visitor this track template is, or a new id (the visitor is made by ``record``)."""
        with self.lock:
            return self._match(template)

    def _match(self, template: np.ndarray) -> str:
        best, score = None, -2.0
        for visitor in self.all.values():
            s = float(np.max(np.stack(visitor.templates) @ template)) if visitor.templates else -2.0
            if s > score:
                best, score = visitor.id, s
        if best is not None and score >= self.threshold:
            return best
        new, self._next = f"v{self._next}", self._next + 1
        return new

    def record(self, visitor_id: str, template: np.ndarray, crops: list[tuple[int, str]], when: str) -> Visitor:
        """A visit of ``visitor_id`` ended: its template and crops join the visitor's."""
        with self.lock:
            return self._record(visitor_id, template, crops, when)

    def _record(self, visitor_id: str, template: np.ndarray, crops: list[tuple[int, str]], when: str) -> Visitor:
        visitor = self.all.get(visitor_id)
        if visitor is None:
            visitor = self.all[visitor_id] = Visitor(visitor_id, when, when)
        visitor.visits += 1
        visitor.last_seen = when
        visitor.templates = [*visitor.templates, np.asarray(template, np.float32)][-TEMPLATES:]
        visitor.crops = sorted({*visitor.crops, *crops}, key=lambda c: -c[0])[:CROPS]
        self.save()
        return visitor

    def get(self, visitor_id: str) -> Visitor | None:
        """The visitor of that id; ids from requests are only ever looked up, never built into paths."""
        with self.lock:
            return self.all.get(visitor_id) if VISITOR_ID.fullmatch(visitor_id) else None

    def listing(self) -> list[Visitor]:
        """The latest seen first."""
        with self.lock:
            return sorted(self.all.values(), key=lambda v: v.last_seen, reverse=True)

    def remove(self, visitor_id: str) -> None:
        with self.lock:
            self.all.pop(visitor_id, None)
            self.save()

    def save(self) -> None:
        visitors = sorted(self.all.values(), key=lambda v: v.last_seen, reverse=True)
        header = {
            "format": FORMAT,
            "next": self._next,
            "visitors": [
                {
                    "id": v.id,
                    "first_seen": v.first_seen,
                    "last_seen": v.last_seen,
                    "visits": v.visits,
                    "templates": len(v.templates),
                    "crops": [list(c) for c in v.crops],
                }
                for v in visitors
            ],
        }
        rows = [t for v in visitors for t in v.templates]
        matrix = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
        header_bytes = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, lambda handle: np.savez(handle, header=header_bytes, templates=matrix))

    def _load(self) -> None:
        fix = f"move it aside (mv {self.path} {self.path}.broken): the visitors are forgotten, the gallery is not"
        try:
            with np.load(self.path, allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode("utf-8"))
                matrix = np.array(data["templates"], np.float32)
            if header.get("format") != FORMAT:
                raise ValueError(f"format {header.get('format')!r}, expected {FORMAT}")
            rows = iter(matrix)
            for v in header["visitors"]:
                templates = [next(rows) for _ in range(int(v["templates"]))]
                crops = [(int(side), str(crop)) for side, crop in v["crops"]]
                self.all[v["id"]] = Visitor(
                    v["id"], v["first_seen"], v["last_seen"], int(v["visits"]), templates, crops
                )
            self._next = int(header["next"])
        except (OSError, ValueError, KeyError, TypeError, StopIteration, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise SiamfaceError(f"{self.path}: not a readable visitors file ({exc or 'empty'}); {fix}") from None
