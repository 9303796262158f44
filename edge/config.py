"""config.yaml: loading, validation with one-line errors, and per-run overrides."""

from __future__ import annotations

import glob
import logging
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import SiamfaceError
from .loop.detect import DetectorSettings
from .loop.embed import DEFAULT_MODEL
from .loop.quality import MIN_FACE, MIN_SHARPNESS
from .loop.scan import BETWEEN, ScanSettings
from .loop.track import TrackSettings
from .schema import check_section
from .secrets import read_secret

log = logging.getLogger(__name__)

LOG_LEVELS = ("debug", "info", "warning", "error")

# key -> (accepted types, default, what a person should write); nested dicts are sections.
SCHEMA: dict[str, Any] = {
    "source": (
        (str, int),
        "0",
        "a camera index, /dev/videoN, picamera2, rtsp:// or http:// URL, video file, image folder or image",
    ),
    "camera": ((str,), "camera", "a name for this camera in events"),
    "detector": {
        "cascade": ((str,), DetectorSettings.cascade, "a Haar cascade file name in OpenCV's data, or a path"),
        "scale_factor": ((float, int), DetectorSettings.scale_factor, "a number above 1.0"),
        "min_neighbors": ((int,), DetectorSettings.min_neighbors, "a whole number of at least 0"),
        "min_size": (
            (int,),
            DetectorSettings.min_size,
            "the smallest face side in pixels, a whole number of at least 8",
        ),
        "downscale": ((float, int), DetectorSettings.downscale, "a number of at least 1.0"),
        "full_every": ((int,), ScanSettings.full_every, "a whole number of at least 1"),
        "between": ((str,), ScanSettings.between, f"one of {', '.join(BETWEEN)}"),
    },
    "model": {
        "path": ((str, type(None)), None, "an ONNX embedding model, or null for the bundled one"),
        "threads": ((int,), 1, "a whole number of at least 1"),
    },
    "gallery": ((str,), "gallery.npz", "the gallery file path"),
    "people": ((dict,), {}, "a mapping of name to a list of photo paths or globs"),
    # null: the value the model carries (its siamface.match.* metadata, chosen for it on dev people)
    "match": {
        "threshold": ((float, int, type(None)), None, "a cosine similarity between -1 and 1, or null for the model's"),
        "track_threshold": (
            (float, int, type(None)),
            None,
            "a cosine similarity between -1 and 1, or null for the model's",
        ),
        "stranger_threshold": (
            (float, int, type(None)),
            None,
            "a cosine similarity between -1 and 1, or null for the model's",
        ),
        "margin": ((float, int, type(None)), None, "a score difference between 0 and 2, or null for the model's"),
    },
    "output": {
        "annotate": ((str, type(None)), None, "a folder for annotated images or a .mp4/.avi file, or null"),
    },
    "tracking": {
        "min_frames": ((int,), TrackSettings.min_frames, "usable frames before a track is named, at least 1"),
        "unknown_after": (
            (float, int),
            TrackSettings.unknown_after,
            "seconds of usable frames without a name before unknown is announced, at least 0",
        ),
        "leave_after": ((float, int), 2.0, "seconds unseen before a person's leave event, above 0"),
        "cooldown": ((float, int), 30.0, "seconds after a leave without a new enter for that person, at least 0"),
        "min_similarity": ((float, int), 0.93, "a cosine similarity between -1 and 1"),
    },
    "quality": {
        "min_face": ((int,), MIN_FACE, "the smallest face side in pixels that counts towards a name, at least 1"),
        "min_sharpness": (
            (float, int),
            MIN_SHARPNESS,
            "the least variance of the Laplacian of the face (64x64) that counts towards a name",
        ),
    },
    "webhook": {
        "url": (
            (str, type(None)),
            None,
            "an http:// or https:// URL (host, and a numeric port if any) to POST each event to, or null",
        ),
        "token_env": ((str, type(None)), None, "the name of an environment variable holding a bearer token, or null"),
        "token_file": (
            (str, type(None)),
            None,
            "a file holding a bearer token (readable by the service only), or null",
        ),
        "timeout": ((float, int), 2.0, "seconds per attempt, above 0"),
        "retries": ((int,), 3, "attempts after the first, at least 0"),
    },
    "mqtt": {
        "host": ((str, type(None)), None, "the MQTT broker's host name, or null for none"),
        "port": ((int,), 1883, "a TCP port, 1 to 65535"),
        "topic_prefix": ((str,), "siamface", "the first topic level"),
        "username": ((str, type(None)), None, "a user name, or null"),
        "password_env": ((str, type(None)), None, "the name of an environment variable holding the password, or null"),
        "password_file": (
            (str, type(None)),
            None,
            "a file holding the password (readable by the service only), or null",
        ),
        "tls": ((bool,), False, "true or false"),
    },
    "prometheus": {
        "port": ((int, type(None)), None, "a port for the metrics endpoint on 127.0.0.1 (0: any free one), or null"),
    },
    "snapshots": {
        "folder": ((str, type(None)), None, "a folder for crops of unknown faces, or null for none"),
        "max_files": ((int,), 200, "the most crops kept, at least 1"),
        "max_age_days": ((float, int), 7, "days a crop is kept, above 0"),
    },
    "service": {
        "exit_after": ((float, int), 60, "seconds without frames before exiting non-zero, above 0"),
        "max_backoff": ((float, int), 10, "the longest wait between camera reopen attempts in seconds, above 0"),
        "status_every": ((float, int), 10, "seconds between status reports to systemd, above 0"),
    },
    "logging": {
        "level": ((str,), "info", f"one of {', '.join(LOG_LEVELS)}"),
    },
}


def _is_http_url(text: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 (a port that is not a number raises here, not at the first event)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# Range checks that types alone don't catch: key -> (predicate, message from SCHEMA).
RANGES = {
    "detector.scale_factor": lambda v: v > 1.0,
    "detector.min_neighbors": lambda v: v >= 0,
    "detector.min_size": lambda v: v >= 8,
    "detector.downscale": lambda v: v >= 1.0,
    "detector.full_every": lambda v: v >= 1,
    "detector.between": lambda v: v in BETWEEN,
    "model.threads": lambda v: v >= 1,
    "match.threshold": lambda v: -1.0 <= v <= 1.0,
    "match.track_threshold": lambda v: -1.0 <= v <= 1.0,
    "match.stranger_threshold": lambda v: -1.0 <= v <= 1.0,
    "match.margin": lambda v: 0.0 <= v <= 2.0,
    "logging.level": lambda v: v.lower() in LOG_LEVELS,
    "tracking.min_frames": lambda v: v >= 1,
    "tracking.unknown_after": lambda v: v >= 0,
    "tracking.leave_after": lambda v: v > 0,
    "tracking.cooldown": lambda v: v >= 0,
    "tracking.min_similarity": lambda v: -1.0 <= v <= 1.0,
    "quality.min_face": lambda v: v >= 1,
    "quality.min_sharpness": lambda v: v >= 0,
    "webhook.url": _is_http_url,
    "webhook.timeout": lambda v: v > 0,
    "webhook.retries": lambda v: v >= 0,
    "mqtt.port": lambda v: 1 <= v <= 65535,
    "prometheus.port": lambda v: 0 <= v <= 65535,
    "snapshots.max_files": lambda v: v >= 1,
    "snapshots.max_age_days": lambda v: v > 0,
    "service.exit_after": lambda v: v > 0,
    "service.max_backoff": lambda v: v > 0,
    "service.status_every": lambda v: v > 0,
}


@dataclass
class Config:
    path: Path | None  # None when running on defaults alone
    source: str
    camera: str
    detector: DetectorSettings
    scan: ScanSettings
    model_path: Path
    threads: int
    gallery_path: Path
    people: dict[str, list[str]] = field(default_factory=dict)  # name -> photo paths or globs, as written
    threshold: float | None = None  # None: the model's (with_model_scores)
    margin: float | None = None
    annotate: Path | None = None
    log_level: str = "info"
    tracking: TrackSettings = field(default_factory=lambda: TrackSettings(None, None, None, None))
    min_face: int = 32
    min_sharpness: float = 60.0
    webhook_url: str | None = None
    webhook_token: str | None = None
    webhook_timeout: float = 2.0
    webhook_retries: int = 3
    mqtt_host: str | None = None
    mqtt_port: int = 1883
    mqtt_prefix: str = "siamface"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_tls: bool = False
    prometheus_port: int | None = None
    snapshots: Path | None = None
    snapshots_max_files: int = 200
    snapshots_max_age_days: float = 7.0
    exit_after: float = 60.0
    max_backoff: float = 10.0
    status_every: float = 10.0
    source_given: bool = True  # False: the config (or its absence) left `source` at the default, camera 0

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, value: str | Path) -> Path:
        """Paths in the config are relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def photos_of(self, name: str) -> list[Path]:
        """Expand one person's photo entries; a path or glob that finds nothing is an error."""
        found: list[Path] = []
        for entry in self.people[name]:
            pattern = str(self.resolve(entry))
            matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
            if not matches or not Path(matches[0]).exists():
                where = self.path or "--person"
                raise SiamfaceError(
                    f"{where}: people.{name}: {entry!r} matches no file (expected photo paths or globs)"
                )
            found.extend(Path(m) for m in matches)
        return found


def check_name(name: object, where: str) -> str:
    """A person's name as events, topics and `gallery list` print it: one line, not blank, not 'unknown'."""
    if (
        not isinstance(name, str)
        or not name.strip()
        or name.strip() == "unknown"
        or any(not c.isprintable() for c in name)
    ):
        raise SiamfaceError(
            f"{where}: name {name!r}, expected a non-blank name on one line (no control characters), not 'unknown'"
        )
    return name


def _check_people(people: dict, where: str) -> dict[str, list[str]]:
    checked = {}
    for name, photos in people.items():
        check_name(name, f"{where}: people")
        if isinstance(photos, str):
            photos = [photos]
        if not isinstance(photos, list) or not photos or not all(isinstance(p, str) for p in photos):
            raise SiamfaceError(f"{where}: people.{name}={photos!r}, expected a list of photo paths or globs")
        checked[name] = photos
    return checked


def _number(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def with_model_scores(config: Config, scores: dict[str, float], model: Path) -> Config:
    """The config with each match.* it leaves null taken from the model's scores (ModelContract.scores);
    a score neither gives is a one-line error. A face that moved far between frames stays the same
    person only by the naming standard, so the tracker's jump_similarity is the threshold."""
    track = config.tracking
    given = {
        "threshold": config.threshold,
        "margin": config.margin,
        "track_threshold": track.threshold,
        "stranger_threshold": track.stranger_threshold,
    }
    for key, value in given.items():
        if value is None:
            if key not in scores:
                raise SiamfaceError(
                    f"{model}: the model carries no match.{key} (siamface.match.{key} metadata), and "
                    f"{config.path or 'the config'} sets none: set match.{key} (`face-edge calibrate` finds the "
                    "thresholds for a gallery)"
                )
            given[key] = scores[key]
    tracking = replace(
        track,
        threshold=given["track_threshold"],
        stranger_threshold=given["stranger_threshold"],
        margin=given["margin"],
        jump_similarity=given["threshold"],
    )
    return replace(config, threshold=given["threshold"], margin=given["margin"], tracking=tracking)


def parse(data: Any, path: Path | None) -> Config:
    where = str(path) if path else "defaults"
    v = check_section(_drop_retired(data, where), SCHEMA, "", where, RANGES)
    config = Config(
        source_given=isinstance(data, dict) and "source" in data,
        path=path,
        source=str(v["source"]),
        camera=v["camera"],
        detector=DetectorSettings(
            cascade=v["detector.cascade"],
            scale_factor=float(v["detector.scale_factor"]),
            min_neighbors=v["detector.min_neighbors"],
            min_size=v["detector.min_size"],
            downscale=float(v["detector.downscale"]),
        ),
        scan=ScanSettings(full_every=v["detector.full_every"], between=v["detector.between"]),
        model_path=DEFAULT_MODEL,
        threads=v["model.threads"],
        gallery_path=Path(v["gallery"]),
        people=_check_people(v["people"], where),
        threshold=_number(v["match.threshold"]),
        margin=_number(v["match.margin"]),
        log_level=v["logging.level"].lower(),
        tracking=TrackSettings(
            threshold=_number(v["match.track_threshold"]),
            stranger_threshold=_number(v["match.stranger_threshold"]),
            margin=_number(v["match.margin"]),
            min_frames=v["tracking.min_frames"],
            unknown_after=float(v["tracking.unknown_after"]),
            leave_after=float(v["tracking.leave_after"]),
            cooldown=float(v["tracking.cooldown"]),
            min_similarity=float(v["tracking.min_similarity"]),
            jump_similarity=_number(v["match.threshold"]),
        ),
        min_face=v["quality.min_face"],
        min_sharpness=float(v["quality.min_sharpness"]),
        webhook_url=v["webhook.url"],
        webhook_token=read_secret(v["webhook.token_env"], v["webhook.token_file"], "webhook.token"),
        webhook_timeout=float(v["webhook.timeout"]),
        webhook_retries=v["webhook.retries"],
        mqtt_host=v["mqtt.host"],
        mqtt_port=v["mqtt.port"],
        mqtt_prefix=v["mqtt.topic_prefix"],
        mqtt_username=v["mqtt.username"],
        mqtt_password=read_secret(v["mqtt.password_env"], v["mqtt.password_file"], "mqtt.password"),
        mqtt_tls=v["mqtt.tls"],
        prometheus_port=v["prometheus.port"],
        snapshots_max_files=v["snapshots.max_files"],
        snapshots_max_age_days=float(v["snapshots.max_age_days"]),
        exit_after=float(v["service.exit_after"]),
        max_backoff=float(v["service.max_backoff"]),
        status_every=float(v["service.status_every"]),
    )
    if v["model.path"] is not None:
        config.model_path = config.resolve(v["model.path"])
        if config.model_path.name == OLD_BUNDLED_NAME and not config.model_path.exists():
            log.warning(
                "%s: model.path %s is the bundled model's old name: using %s", where, v["model.path"], DEFAULT_MODEL
            )
            config.model_path = DEFAULT_MODEL
    config.gallery_path = config.resolve(v["gallery"])
    if v["output.annotate"] is not None:
        config.annotate = config.resolve(v["output.annotate"])
    if v["snapshots.folder"] is not None:
        config.snapshots = config.resolve(v["snapshots.folder"])
    return config


# The bundled model's file name before version 0.2, which configs may still name.
OLD_BUNDLED_NAME = "siamface-mobile.onnx"

# Keys of earlier versions that are accepted and ignored, so that an upgrade does not stop the service.
RETIRED = {
    "tracking.votes_needed": "tracks are named on all their frames now (tracking.min_frames)",
    "tracking.vote_window": "tracks are named on all their frames now (tracking.min_frames)",
}


def _drop_retired(data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for key, why in RETIRED.items():
        section, name = key.split(".")
        if isinstance(data.get(section), dict) and name in data[section]:
            data[section] = {k: v for k, v in data[section].items() if k != name}
            log.warning("%s: %s is no longer used and is ignored: %s", where, key, why)
    return data


def _text_line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def load(path: str | Path | None) -> Config:
    """Load ``path``; with None, ./config.yaml when it exists, else built-in defaults."""
    if path is None:
        default = Path("config.yaml")
        if not default.is_file():
            return parse({}, None)
        path = default
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiamfaceError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise SiamfaceError(f"{path}: is a folder, expected a config file (config.yaml)") from None
    except PermissionError:
        raise SiamfaceError(f"{path}: config file not readable by this user (check its owner and mode)") from None
    except UnicodeDecodeError as exc:
        line = _text_line(path.read_bytes(), exc.start)
        raise SiamfaceError(f"{path}: line {line}: not UTF-8 text (byte {exc.object[exc.start]:#04x})") from None
    except OSError as exc:
        raise SiamfaceError(f"{path}: config file cannot be read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise SiamfaceError(f"{path}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse(data, path)
