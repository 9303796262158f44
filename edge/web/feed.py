"""The loop's side of the page: after each frame the annotated view (at most ``web.live_fps``), the
tracks and the largest crop of each face; for each event a crop in the store and, for strangers, a
visitor id. All of it is quick and local; the page is served from other threads (server.py)."""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np

from ..config import Config
from ..errors import SiamfaceError
from ..loop.embed import Embedder
from ..loop.match import UNKNOWN, Match
from ..loop.track import Tracker, TrackEvent
from ..outputs.annotate import draw
from ..outputs.events import Event
from ..outputs.snapshots import Snapshots
from .board import Board, LiveTrack, PageEvent
from .visitors import Visitors

log = logging.getLogger(__name__)

# A track's crops: a new one each time its face grows by this factor (a stranger walking up gives a
# ladder of sizes), the latest few kept.
GROWTH = 1.25
CROPS_PER_TRACK = 6


class WebFeed:
    def __init__(self, config: Config, embedder: Embedder) -> None:
        try:  # the web library is loaded here, with the page on, never otherwise
            from .server import PageServer
        except ImportError as exc:
            raise SiamfaceError(
                f"web.listen is set but {exc.name} is not installed: pip install 'siamface[web]'"
            ) from None

        state = config.state_dir
        self.crops = Snapshots(state / "crops", config.crops_max_files, config.crops_max_age_days)
        self.visitors = Visitors(state / "visitors.npz", config.tracking.stranger_threshold)
        self.board = Board()
        self._every = 1.0 / config.live_fps
        self._shown = -np.inf
        # track -> (face side, crop) at growing sizes: a stranger's choice of photos to be named by
        self._crops: dict[int, list[tuple[int, np.ndarray]]] = {}
        self._visitor_of: dict[int, str] = {}  # unknown tracks announced -> their visitor
        self.server = PageServer(config, embedder, self.board, self.visitors, self.crops)

    def frame(self, frame: np.ndarray, boxes: np.ndarray, labels: list[Match], tracker: Tracker, now: float) -> None:
        seen = [t for t in tracker.tracks if t.last_seen == now]
        for t in seen:
            side = min(t.box[2], t.box[3])
            kept = self._crops.setdefault(t.id, [])
            if not kept or side >= GROWTH * kept[-1][0]:
                kept.append((side, Snapshots.crop(frame, t.box)))
                del kept[:-CROPS_PER_TRACK]
        live = {t.id for t in tracker.tracks}
        self._crops = {k: v for k, v in self._crops.items() if k in live}
        if time.monotonic() - self._shown < self._every:
            return
        self._shown = time.monotonic()
        ok, jpeg = cv2.imencode(".jpg", draw(frame, boxes, labels), [cv2.IMWRITE_JPEG_QUALITY, 75])
        tracks = [LiveTrack(t.id, t.name or "…", round(t.score, 3), t.box) for t in seen]
        if ok:
            self.board.show(jpeg.tobytes(), tracks)

    def visitor_for(self, e: TrackEvent) -> str | None:
        """The visitor an unknown track is: matched when it is announced, kept to its leave."""
        if e.name != UNKNOWN or e.template is None:
            return None
        if e.kind == "enter":
            self._visitor_of[e.track] = self.visitors.match(e.template)
        return self._visitor_of.get(e.track)

    def event(self, event: Event, e: TrackEvent) -> None:
        kept = self._crops.get(e.track, [])
        crop_id = self._save_crop(e.track, kept[-1][1]) if kept else None
        if e.kind == "identified":  # not a stranger after all: no visit to record
            self._visitor_of.pop(e.track, None)
        if e.kind == "leave" and e.track in self._visitor_of and e.template is not None:
            crops = [(kept[-1][0], crop_id)] if crop_id else []
            crops += [(side, saved) for side, crop in kept[:-1] if (saved := self._save_crop(e.track, crop))]
            self.visitors.record(self._visitor_of.pop(e.track), e.template, crops, event.time)
        self.board.add(
            PageEvent(
                0,
                event.time,
                e.kind,
                e.name,
                e.score,
                e.track,
                event.visitor,
                crop_id,
                e.template if e.name != UNKNOWN else None,
            )
        )
        if e.kind == "leave":
            self._crops.pop(e.track, None)
        try:
            self.crops.prune()
        except OSError as exc:  # the store over its limits for a while, never the service stopped
            log.warning("crops not pruned: %s", exc)

    def _save_crop(self, track: int, crop: np.ndarray) -> str | None:
        try:
            return self.crops.save(crop, f"track{track}", prune=False).stem
        except OSError as exc:  # a full disk loses a crop, never the service
            log.warning("crop of track %d not saved: %s", track, exc)
            return None

    def take_gallery_change(self) -> bool:
        if not self.board.gallery_changed.is_set():
            return False
        self.board.gallery_changed.clear()
        return True

    def reconfigure(self, config: Config) -> None:
        """A reload's new thresholds and paths; where the page listens and its token stay until a restart."""
        if (config.web_listen, config.web_token) != (self.server.config.web_listen, self.server.config.web_token):
            log.warning("web.listen and the page's token take effect at the next start")
        self.server.config = config

    def close(self) -> None:
        self.server.close()
