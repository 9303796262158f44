"""The device loop: frames in, events out, until the source ends or the process is told to stop.

Faces are tracked across frames; each person gives one ``enter`` event (named on the track's
template of the frames whose face passed the quality gate, or unknown), an ``identified`` event if
an announced unknown is named later, and one ``leave`` event; time is the frames' own (sources.py).
Signals only set flags, acted on between frames: SIGHUP reloads config and gallery (a bad new
config is refused and the old one stays), SIGTERM stops; every wait ends at once on a stop, which is
exit status 0. A camera or stream that stops delivering frames is reopened with back-off up to
``service.max_backoff``, the watchdog still fed; after ``service.exit_after`` seconds without a
frame the loop gives up with exit status 1, so that systemd restarts the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from . import gallery as gallery_io
from .config import Config, with_model_scores
from .errors import SiamfaceError
from .learn import lesson_of, teach
from .loop.detect import make_detector
from .loop.embed import Embedder
from .loop.match import UNKNOWN, Match, Matcher
from .loop.pipeline import STAGES, FrameResult, Pipeline
from .loop.preprocess import preprocess_faces
from .loop.profile import ProfileFinder
from .loop.quality import weights
from .loop.scan import Scanner, describe
from .loop.sources import FrameSource, Waiting, open_source, source_path
from .loop.track import Tracker, TrackEvent
from .outputs.events import Event, emit_line, utc_now
from .outputs.mqtt import MqttPublisher
from .outputs.notify import Notifier
from .outputs.prometheus import Metrics
from .outputs.snapshots import Snapshots
from .outputs.webhook import Webhook

log = logging.getLogger("face-edge")


def load_matcher(config: Config, embedder: Embedder) -> Matcher:
    gallery = gallery_io.load(config.gallery_path)
    gallery.check_model(embedder.fingerprint, embedder.contract.preprocess_version, config.gallery_path, embedder.path)
    return Matcher(gallery, config.threshold, config.margin)


@dataclass
class Runtime:
    config: Config
    pipeline: Pipeline
    profiles: ProfileFinder | None = None  # tracking.turned_heads


def load_runtime(config: Config) -> Runtime:
    embedder = Embedder(config.model_path, config.threads)
    config = with_model_scores(config, embedder.contract.scores, embedder.path)
    return Runtime(
        config,
        Pipeline(Scanner(make_detector(config.detector), config.scan), embedder, load_matcher(config, embedder)),
        ProfileFinder() if config.tracking.turned_heads else None,
    )


def track_frame(
    runtime: Runtime, tracker: Tracker, frame: np.ndarray, now: float, still: bool = False
) -> tuple[FrameResult, list[TrackEvent]]:
    """One frame through the pipeline and into the tracker, at ``now`` on the source's clock;
    ``still``: the frame is a photo of its own (a folder of images), searched whole."""
    result = runtime.pipeline.process(frame, still, tracker.named_boxes())
    config = runtime.config
    # A carried embedding (pipeline.py) is the last frame's evidence again: it links, it does not vote.
    fresh = np.ones(len(result.boxes), bool) if result.fresh is None else result.fresh
    faces = np.zeros(len(result.boxes))
    faces[fresh] = weights(frame, result.boxes[fresh], config.min_face, config.min_sharpness)
    turned = None if runtime.profiles is None or still else partial(turned_face, runtime, frame)
    return result, tracker.update(now, result.boxes, result.embeddings, faces.tolist(), turned)


def turned_face(runtime: Runtime, frame: np.ndarray, box: tuple) -> tuple[tuple, np.ndarray] | None:
    """A profile near ``box`` and its embedding, for a track that lost its face (profile.py)."""
    found = runtime.profiles.find(frame, box)
    if found is None:
        return None
    embedder = runtime.pipeline.embedder
    return found, embedder.embed_batch(preprocess_faces(frame, np.asarray([found]), embedder.contract))[0]


def track_labels(tracker: Tracker, result: FrameResult, now: float) -> list[Match]:
    """What to draw on each face: its track's name once decided (the events say the same), else the
    frame's own closest match."""
    decided = {t.box: t for t in tracker.tracks if t.last_seen == now and t.name is not None}
    labels = []
    for box, match in zip(result.boxes, result.matches):
        track = decided.get(tuple(int(v) for v in box))
        labels.append(match if track is None else Match(track.name, track.score, track.name, -1.0))
    return labels


def learn_ended(runtime: Runtime, tracker: Tracker) -> int:
    """Named tracks that ended teach the gallery file (learn.py) when learning is on, and the loop
    then matches with what was learned; how many templates joined. A gallery that cannot be written
    is logged, never fatal."""
    ended, tracker.ended = tracker.ended, []
    config = runtime.config
    if not config.learning.enabled or not ended:
        return 0
    pipeline = runtime.pipeline
    lessons = [lesson_of(t, pipeline.matcher, config.camera) for t in ended]
    model = (pipeline.embedder.fingerprint, pipeline.embedder.contract.preprocess_version)
    try:
        gallery, joined = teach(
            config.gallery_path,
            [lesson for lesson in lessons if lesson is not None],
            config.learning,
            config.threshold,
            config.margin,
            model,
        )
    except (OSError, SiamfaceError) as exc:
        log.warning("learning: %s; the gallery is unchanged", exc)
        return 0
    if gallery is not None:
        log.info("learned %d template(s) from tracks %s", joined, ", ".join(str(t.id) for t in ended))
        pipeline.matcher = tracker.matcher = Matcher(gallery, config.threshold, config.margin)
    return joined


# A live source silent this long (seconds) is taken as gone and reopened, unless exit_after is shorter.
STALL_AFTER = 10.0


class CameraGone(SiamfaceError):
    """No frames for longer than service.exit_after: the process should exit non-zero."""


class Runner:
    def __init__(
        self,
        load_config: Callable[[], Config],
        max_frames: int | None = None,
        annotate: Path | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._load_config = load_config
        self._max_frames = max_frames
        self._annotate = annotate
        self._notifier = notifier or Notifier()
        self._clock = clock
        self._stopping = threading.Event()
        # Waits between camera reopen attempts end at once on a stop request (tests pass a fake).
        self._sleep = sleep or self._stopping.wait
        self._reload = False
        self.reconnects = 0
        self.frames = 0
        self._faces: dict[int, np.ndarray] = {}  # track -> its latest face crop, when snapshots are on
        self._web = None  # the page (web/feed.py), when web.listen is set
        # kind -> (the settings it was built from, the output or None); see sink_settings
        self._sinks: dict[str, tuple[tuple | None, object]] = dict.fromkeys(SINKS, (None, None))

    def request_stop(self) -> None:
        self._stopping.set()

    @property
    def _stop(self) -> bool:
        return self._stopping.is_set()

    def request_reload(self) -> None:
        self._reload = True

    def run(self) -> int:
        from .outputs.annotate import AnnotatedOutput, draw

        runtime = load_runtime(self._load_config())
        if not runtime.config.source_given:  # an empty or missing config: say what is being read
            where = runtime.config.path or "no config file (./config.yaml)"
            log.warning("%s sets no source: reading camera %s, the default", where, runtime.config.source)
        annotate = self._annotate or runtime.config.annotate
        reading = source_path(runtime.config.source, runtime.config.base_dir)
        output = AnnotatedOutput(annotate, source=reading) if annotate else None
        self._swap_sinks(self._build_sinks(runtime.config))  # an output that cannot work stops us here
        try:
            if runtime.config.web_listen:
                from .web.feed import WebFeed  # with the page off, nothing of it is imported

                self._web = WebFeed(runtime.config, runtime.pipeline.embedder)
            self._announce(runtime)
            source = open_source(runtime.config.source, runtime.config.base_dir, self._waiting(runtime.config))
        except BaseException:
            self._close_sinks()
            raise
        log.info(
            "running on %s with %d people enrolled; detection: %s",
            source.name,
            len(runtime.pipeline.matcher.names),
            describe(runtime.config.detector, runtime.config.scan),
        )
        tracker = Tracker(runtime.pipeline.matcher, runtime.config.tracking)
        tracker_time = 0.0
        totals = dict.fromkeys(STAGES, 0.0)
        faces = 0
        last_frame = window_start = self._clock()
        window_frames = 0
        ready = False
        ended = False  # the source ran out (a file or folder), as opposed to a stop or --max-frames
        try:
            while not self._stop and (self._max_frames is None or self.frames < self._max_frames):
                if self._reload:
                    self._reload = False
                    old_source = source
                    runtime, source = self._reloaded(runtime, source)
                    if source is not old_source:  # another clock: the old source's tracks end here
                        self._emit(tracker.close(tracker_time, old_source.stills), runtime.config.camera)
                    tracker.settings = runtime.config.tracking  # open tracks carry on
                    tracker.matcher = runtime.pipeline.matcher
                    self._announce(runtime)
                if self._web and self._web.take_gallery_change():
                    self._take_gallery(runtime, tracker)
                try:
                    frame = source.read()
                except SiamfaceError as exc:
                    log.warning("%s", exc)
                    source.close()
                    reopened = self._reopen(runtime.config, last_frame)
                    if reopened is None:  # told to stop while waiting for the camera: a stop like any other
                        break
                    source = reopened
                    continue
                if frame is None:  # the end of a file or folder, or a stop while waiting for a frame
                    ended = not self._stop
                    break
                last_frame = self._clock()
                if not ready:
                    ready = True
                    self._notifier.ready(f"running, {len(runtime.pipeline.matcher.names)} people enrolled")
                now = tracker_time = source.time
                result, events = track_frame(runtime, tracker, frame, now, source.stills)
                config = runtime.config
                if self._snapshots:  # the latest face of each track, for when it turns out unknown
                    self._faces.update(
                        {t.id: Snapshots.crop(frame, t.box) for t in tracker.tracks if t.last_seen == now}
                    )
                self._emit(events, config.camera)
                learn_ended(runtime, tracker)
                if self._faces:  # tracks that ended undecided leave no leave event: drop their crops
                    live = {t.id for t in tracker.tracks}
                    self._faces = {k: v for k, v in self._faces.items() if k in live}
                if output or self._web:
                    labels = track_labels(tracker, result, now)
                    if output:
                        output.write(self.frames, draw(frame, result.boxes, labels))
                    if self._web:
                        self._web.frame(frame, result.boxes, labels, tracker, now)
                self._notifier.watchdog()  # only after a frame was really processed
                for stage, seconds in result.seconds.items():
                    totals[stage] += seconds
                    if self._metrics:
                        self._metrics.stage_seconds.labels(stage).observe(seconds)
                if self._metrics:
                    self._metrics.frames.inc()
                    self._metrics.faces.inc(len(result.boxes))
                self.frames += 1
                faces += len(result.boxes)
                window_frames += 1
                if self._clock() - window_start >= runtime.config.status_every:
                    fps = window_frames / (self._clock() - window_start)
                    self._notifier.status(
                        f"{fps:.1f} fps, {len(runtime.pipeline.matcher.names)} people enrolled, "
                        f"{self.reconnects} reconnects"
                    )
                    window_start, window_frames = self._clock(), 0
        finally:
            # However the loop ends, open tracks are decided on the frames they had and closed.
            self._emit(tracker.close(tracker_time, source.stills), runtime.config.camera)
            learn_ended(runtime, tracker)
            if ended and self._web:
                self._linger(runtime, tracker)
            self._close_sinks()
            self._notifier.stopping()
            try:
                source.close()  # it may be closed already, after a camera was lost
            except Exception as exc:
                log.warning("closing %s: %s", source.name, exc)
            if output:
                output.close()
        if self.frames:
            split = ", ".join(f"{stage} {1000 * totals[stage] / self.frames:.1f}" for stage in STAGES)
            log.info("%d frames, %d faces; mean ms per frame: %s", self.frames, faces, split)
        return 0

    def _emit(self, events: list[TrackEvent], camera: str) -> None:
        for e in events:
            visitor = self._web.visitor_for(e) if self._web else None
            event = Event(
                utc_now(), camera, e.kind, e.track, e.name, round(e.score, 4), e.box, self.frames, e.previous, visitor
            )
            line = event.to_json()
            emit_line(line)
            if self._web:
                self._web.event(event, e)
            if self._webhook:
                self._webhook.send(line)
            if self._mqtt:
                self._mqtt.publish(line, event)
            if self._metrics:
                self._metrics.events.labels(e.kind, "unknown" if e.name == UNKNOWN else "named").inc()
            face = self._faces.get(e.track)
            if self._snapshots and face is not None and e.kind == "enter" and e.name == UNKNOWN:
                try:
                    self._snapshots.save(face, f"track{e.track}")
                except OSError as exc:  # a full disk loses a crop, never the service
                    log.warning("snapshot of track %d not saved: %s", e.track, exc)

    def _announce(self, runtime: Runtime) -> None:
        """Home Assistant learns who is enrolled (outputs/mqtt.py), at start and on every change."""
        if self._mqtt:
            self._mqtt.announce(runtime.pipeline.matcher.names)

    def _take_gallery(self, runtime: Runtime, tracker: Tracker) -> None:
        """The gallery the page wrote, taken between frames; one the loop cannot use is refused."""
        try:
            matcher = load_matcher(runtime.config, runtime.pipeline.embedder)
        except SiamfaceError as exc:
            log.error("the page's change to the gallery is not taken: %s", exc)
            return
        runtime.pipeline.matcher = tracker.matcher = matcher
        self._announce(runtime)
        log.info("gallery changed on the page: %d people enrolled", len(matcher.names))

    def _linger(self, runtime: Runtime, tracker: Tracker) -> None:
        """The source ended with the page on: the page stays up (to name whoever was seen) until a stop."""
        log.info("%s ended; the page stays up until stopped (Ctrl-C)", runtime.config.source)
        self._web.board.nobody()
        while not self._stop:
            self._stopping.wait(0.5)
            self._notifier.watchdog()
            if self._web.take_gallery_change():
                self._take_gallery(runtime, tracker)

    @property
    def _webhook(self) -> Webhook | None:
        return self._sinks["webhook"][1]

    @property
    def _mqtt(self) -> MqttPublisher | None:
        return self._sinks["mqtt"][1]

    @property
    def _metrics(self) -> Metrics | None:
        return self._sinks["metrics"][1]

    @property
    def _snapshots(self) -> Snapshots | None:
        return self._sinks["snapshots"][1]

    def _build_sinks(self, config: Config) -> dict[str, tuple[tuple, object]]:
        """The outputs whose settings changed, built anew beside the running ones: all or none (one
        that fails closes those built before it, and raises)."""
        built: dict[str, tuple[tuple, object]] = {}
        try:
            for kind, settings in sink_settings(config).items():
                if settings != self._sinks[kind][0]:
                    built[kind] = (settings, SINKS[kind](settings))
        except BaseException:
            for _, sink in built.values():
                _close(sink)
            raise
        return built

    def _swap_sinks(self, built: dict[str, tuple[tuple, object]]) -> None:
        for kind, (settings, sink) in built.items():
            _close(self._sinks[kind][1])
            self._sinks[kind] = (settings, sink)

    def _close_sinks(self) -> None:
        for _, sink in self._sinks.values():
            _close(sink)
        _close(self._web)
        self._web = None

    def _waiting(self, config: Config) -> Waiting:
        """How live sources wait for frames: woken by a stop, feeding the watchdog meanwhile, and
        reporting a silent device gone in time for the reopen policy to apply."""
        return Waiting(self._stopping, self._notifier.watchdog, min(STALL_AFTER, config.exit_after))

    def _wait(self, seconds: float) -> None:
        """A back-off wait, in slices short enough to keep the watchdog fed."""
        end = self._clock() + seconds
        while not self._stop and (left := end - self._clock()) > 0:
            self._sleep(min(left, self._notifier.watchdog_every or left))
            self._notifier.watchdog()

    def _reopen(self, config: Config, last_frame: float) -> FrameSource | None:
        """The source opened again, with back-off; None if a stop was requested meanwhile. One policy
        for every kind of source: cameras, the Pi camera and streams."""
        backoff = 0.5
        while not self._stop:
            waited = self._clock() - last_frame
            if waited >= config.exit_after:
                raise CameraGone(
                    f"source {config.source}: no frames for {waited:.0f} s (service.exit_after={config.exit_after:g}); "
                    "exiting so that the service is restarted"
                )
            self._wait(min(backoff, config.exit_after - waited))
            if self._stop:
                return None
            try:
                source = open_source(config.source, config.base_dir, self._waiting(config))
            except SiamfaceError as exc:
                log.warning("reopening failed: %s", exc)
            else:
                self.reconnects += 1
                if self._metrics:
                    self._metrics.reconnects.inc()
                log.info("source %s reopened (reconnect %d)", source.name, self.reconnects)
                return source
            backoff = min(backoff * 2, config.max_backoff)
        return None

    def _reloaded(self, runtime: Runtime, source: FrameSource) -> tuple[Runtime, FrameSource]:
        """All or nothing: the new runtime, outputs and source are built beside the running ones and
        swapped in only when every one of them works; otherwise one line is logged and all stays."""
        built: dict[str, tuple[tuple, object]] = {}
        try:
            new = load_runtime(self._load_config())
            built = self._build_sinks(new.config)
            changed = (new.config.source, new.config.base_dir) != (runtime.config.source, runtime.config.base_dir)
            new_source = (
                open_source(new.config.source, new.config.base_dir, self._waiting(new.config)) if changed else source
            )
        except Exception as exc:  # whatever goes wrong, a reload must not end the service
            for _, sink in built.values():
                _close(sink)
            reason = str(exc) if isinstance(exc, SiamfaceError) else f"{type(exc).__name__}: {exc}"
            log.error("reload refused, the running config stays in force: %s", reason)
            return runtime, source
        if new_source is not source:
            source.close()
        self._swap_sinks(built)
        if self._web:
            self._web.reconfigure(new.config)
        log.info(
            "reloaded: %d people enrolled, threshold %.3f, track threshold %.3f",
            len(new.pipeline.matcher.names),
            new.config.threshold,
            new.config.tracking.threshold,
        )
        return new, new_source


def sink_settings(config: Config) -> dict[str, tuple]:
    """What each optional output is built from; an output is rebuilt on reload only when this changed."""
    return {
        "webhook": (config.webhook_url, config.webhook_token, config.webhook_timeout, config.webhook_retries),
        "mqtt": (
            config.mqtt_host,
            config.mqtt_port,
            config.camera,
            config.mqtt_prefix,
            config.mqtt_username,
            config.mqtt_password,
            config.mqtt_tls,
            config.mqtt_discovery,
        ),
        "metrics": (config.prometheus_port,),
        "snapshots": (config.snapshots, config.snapshots_max_files, config.snapshots_max_age_days),
    }


SINKS = {
    "webhook": lambda s: Webhook(*s) if s[0] else None,
    "mqtt": lambda s: MqttPublisher(*s) if s[0] else None,
    "metrics": lambda s: Metrics(s[0]) if s[0] is not None else None,
    "snapshots": lambda s: Snapshots(*s) if s[0] else None,
}


def _close(sink: object) -> None:
    close = getattr(sink, "close", None)
    if close is not None:
        close()
