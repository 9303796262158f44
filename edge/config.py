"""config.yaml: loading, validation with one-line errors, and per-run overrides."""

from __future__ import annotations

import glob
import logging
import os
import urllib.parse
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import SiamfaceError
from .learn import LearningSettings
from .loop.detect import DetectorSettings
from .loop.embed import DEFAULT_MODEL
from .loop.quality import MIN_FACE, MIN_SHARPNESS
from .loop.scan import ScanSettings
from .loop.track import NULL_MEANS_MODEL, TrackSettings
from .secrets import read_secret
from .settings import Declared, check, check_keys, declared, is_cosine, setting

log = logging.getLogger(__name__)

LOG_LEVELS = ("debug", "info", "warning", "error")


def _is_http_url(text: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 (a port that is not a number raises here, not at the first event)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# Each setting once, in the order `unknown key` errors list them; the detector's, scan's and
# tracker's own settings are declared in their dataclasses (loop/detect.py, loop/scan.py,
# loop/track.py) and found there.
@dataclass
class Config:
    path: Path | None = None  # None when running on defaults alone
    source: str = setting(
        "source",
        "0",
        "a camera index, /dev/videoN, picamera2, rtsp:// or http:// URL, video file, image folder or image",
        accepts=(str, int),
    )
    camera: str = setting("camera", "camera", "a name for this camera in events")
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    scan: ScanSettings = field(default_factory=ScanSettings)
    model_path: Path | None = setting("model.path", None, "an ONNX embedding model, or null for the bundled one")
    threads: int = setting("model.threads", 1, "a whole number of at least 1", lambda v: v >= 1)
    gallery_path: Path = setting("gallery", "gallery.npz", "the gallery file path")
    people: dict[str, list[str]] = setting("people", {}, "a mapping of name to a list of photo paths or globs")
    # None: the model's (with_model_scores); the other match.* settings are the tracker's.
    threshold: float | None = setting(
        "match.threshold", None, f"a cosine similarity between -1 and 1, {NULL_MEANS_MODEL}", is_cosine
    )
    tracking: TrackSettings = field(default_factory=TrackSettings)
    learning: LearningSettings = field(default_factory=LearningSettings)
    annotate: Path | None = setting(
        "output.annotate", None, "a folder for annotated images or a .mp4/.avi file, or null"
    )
    min_face: int = setting(
        "quality.min_face",
        MIN_FACE,
        "the smallest face side in pixels that counts towards a name, at least 1",
        lambda v: v >= 1,
    )
    min_sharpness: float = setting(
        "quality.min_sharpness",
        MIN_SHARPNESS,
        "the least variance of the Laplacian of the face (64x64) that counts towards a name",
        lambda v: v >= 0,
    )
    webhook_url: str | None = setting(
        "webhook.url",
        None,
        "an http:// or https:// URL (host, and a numeric port if any) to POST each event to, or null",
        _is_http_url,
    )
    webhook_token_env: str | None = setting(
        "webhook.token_env", None, "the name of an environment variable holding a bearer token, or null"
    )
    webhook_token_file: str | None = setting(
        "webhook.token_file", None, "a file holding a bearer token (readable by the service only), or null"
    )
    webhook_timeout: float = setting("webhook.timeout", 2.0, "seconds per attempt, above 0", lambda v: v > 0)
    webhook_retries: int = setting("webhook.retries", 3, "attempts after the first, at least 0", lambda v: v >= 0)
    mqtt_host: str | None = setting("mqtt.host", None, "the MQTT broker's host name, or null for none")
    mqtt_port: int = setting("mqtt.port", 1883, "a TCP port, 1 to 65535", lambda v: 1 <= v <= 65535)
    mqtt_prefix: str = setting("mqtt.topic_prefix", "siamface", "the first topic level")
    mqtt_username: str | None = setting("mqtt.username", None, "a user name, or null")
    mqtt_password_env: str | None = setting(
        "mqtt.password_env", None, "the name of an environment variable holding the password, or null"
    )
    mqtt_password_file: str | None = setting(
        "mqtt.password_file", None, "a file holding the password (readable by the service only), or null"
    )
    mqtt_tls: bool = setting("mqtt.tls", False, "true or false")
    mqtt_discovery: str | None = setting(
        "mqtt.discovery_prefix",
        "homeassistant",
        "Home Assistant's MQTT discovery prefix, or null to announce no entities",
        lambda v: bool(v) and not set(v) & set("+#"),
    )
    prometheus_port: int | None = setting(
        "prometheus.port",
        None,
        "a port for the metrics endpoint on 127.0.0.1 (0: any free one), or null",
        lambda v: 0 <= v <= 65535,
    )
    snapshots: Path | None = setting("snapshots.folder", None, "a folder for crops of unknown faces, or null for none")
    snapshots_max_files: int = setting("snapshots.max_files", 200, "the most crops kept, at least 1", lambda v: v >= 1)
    snapshots_max_age_days: float = setting(
        "snapshots.max_age_days", 7.0, "days a crop is kept, above 0", lambda v: v > 0
    )
    web_listen: str | None = setting(
        "web.listen",
        None,
        "HOST:PORT for the page (127.0.0.1:8080: this machine only), or null for no page",
        lambda v: parse_listen(v) is not None,
    )
    web_token_env: str | None = setting(
        "web.token_env", None, "the name of an environment variable holding the page's token, or null"
    )
    web_token_file: str | None = setting(
        "web.token_file", None, "a file holding the page's token (readable by the service only), or null"
    )
    state_dir: Path | None = setting(
        "web.state_dir",
        None,
        "a folder for visitors and event crops, or null for $STATE_DIRECTORY (systemd's) or ~/.local/state/siamface",
    )
    crops_max_files: int = setting("web.max_crops", 500, "the most event crops kept, at least 10", lambda v: v >= 10)
    crops_max_age_days: float = setting("web.max_age_days", 7.0, "days a crop is kept, above 0", lambda v: v > 0)
    live_fps: float = setting(
        "web.live_fps", 2.0, "live images a second at most, above 0 and at most 10", lambda v: 0 < v <= 10
    )
    exit_after: float = setting(
        "service.exit_after", 60.0, "seconds without frames before exiting non-zero, above 0", lambda v: v > 0
    )
    max_backoff: float = setting(
        "service.max_backoff",
        10.0,
        "the longest wait between camera reopen attempts in seconds, above 0",
        lambda v: v > 0,
    )
    status_every: float = setting(
        "service.status_every", 10.0, "seconds between status reports to systemd, above 0", lambda v: v > 0
    )
    log_level: str = setting(
        "logging.level", "info", f"one of {', '.join(LOG_LEVELS)}", lambda v: v.lower() in LOG_LEVELS
    )
    # Not settings: what the settings above give.
    webhook_token: str | None = None
    mqtt_password: str | None = None
    web_token: str | None = None
    source_given: bool = True  # False: the config (or its absence) left `source` at the default, camera 0

    @property
    def margin(self) -> float | None:
        """match.margin, which frames and tracks are named by alike."""
        return self.tracking.margin

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


def parse_listen(text: object) -> tuple[str, int] | None:
    """(host, port) of "HOST:PORT" ("[::1]:8080" for IPv6), or None when it is not one."""
    if not isinstance(text, str) or ":" not in text:
        return None
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        return None
    return host, int(port)


def is_loopback(listen: str) -> bool:
    """Whether only this machine can reach ``listen``."""
    import ipaddress  # only with the page configured

    host = parse_listen(listen)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any address
        return False


def default_state_dir() -> Path:
    """systemd's StateDirectory= when run by the unit, else the user's XDG state folder."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "siamface"


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
    learning = config.learning
    learning = replace(
        learning,
        min_score=given["stranger_threshold"] if learning.min_score is None else learning.min_score,
        min_margin=2 * given["margin"] if learning.min_margin is None else learning.min_margin,
    )
    return replace(config, threshold=given["threshold"], tracking=tracking, learning=learning)


# Where each settings dataclass sits in a Config; every setting, in the Config's field order.
NESTED = {"detector": DetectorSettings, "scan": ScanSettings, "tracking": TrackSettings, "learning": LearningSettings}
_OWN = {item.field.name: item for item in declared(Config)}
SETTINGS: list[tuple[str | None, Declared]] = []
for _field in fields(Config):
    if _field.name in NESTED:
        SETTINGS += [(_field.name, item) for item in declared(NESTED[_field.name])]
    elif _field.name in _OWN:
        SETTINGS.append((None, _OWN[_field.name]))


def parse(data: Any, path: Path | None, overrides: dict[str, tuple[Any, str]] | None = None) -> Config:
    """The config ``data`` (parsed YAML) from ``path`` describes, with ``overrides`` (key -> (value,
    the command-line flag that gave it)) put in before anything is checked; a bad value is one line
    naming the file and key, or the flag."""
    where = str(path) if path else "defaults"
    given = check_keys(_drop_retired(data, where), [item.key for _, item in SETTINGS], where)
    flags = {}
    for key, (value, flag) in (overrides or {}).items():
        given[key], flags[key] = value, flag
    values: dict[str | None, dict[str, Any]] = {None: {}, **{name: {} for name in NESTED}}
    for owner, item in SETTINGS:
        label = flags.get(item.key) or f"{where}: {item.key}"
        values[owner][item.field.name] = check(item, given.get(item.key, item.default), label)
    top = values[None]
    tracking = TrackSettings(**values["tracking"], jump_similarity=top["threshold"])
    config = Config(
        **top,
        **{name: cls(**values[name]) for name, cls in NESTED.items() if name != "tracking"},
        tracking=tracking,
        path=path,
        source_given="source" in given,
    )
    config.source = str(config.source)
    config.people = _check_people(config.people, where)
    config.log_level = config.log_level.lower()
    config.webhook_token = read_secret(config.webhook_token_env, config.webhook_token_file, "webhook.token")
    config.mqtt_password = read_secret(config.mqtt_password_env, config.mqtt_password_file, "mqtt.password")
    config.web_token = read_secret(config.web_token_env, config.web_token_file, "web.token")
    if config.web_listen is not None and config.web_token is None and not is_loopback(config.web_listen):
        label = flags.get("web.listen") or f"{where}: web.listen"
        raise SiamfaceError(
            f"{label} {config.web_listen} is reachable from other machines, so the page needs a token: "
            "set web.token_env or web.token_file, or listen on 127.0.0.1"
        )
    if config.model_path is None:
        config.model_path = DEFAULT_MODEL
    else:
        given_path = config.model_path
        config.model_path = config.resolve(given_path)
        if config.model_path.name == OLD_BUNDLED_NAME and not config.model_path.exists():
            log.warning("%s: model.path %s is the bundled model's old name: using %s", where, given_path, DEFAULT_MODEL)
            config.model_path = DEFAULT_MODEL
        elif not config.model_path.exists() and Path(given_path).name == str(given_path):
            # A bare file name of a model that ships with siamface: the installed copy, wherever it is.
            bundled = DEFAULT_MODEL.parent / str(given_path)
            if bundled.suffix == ".onnx" and bundled.is_file():
                config.model_path = bundled
    config.gallery_path = config.resolve(config.gallery_path)
    if config.annotate is not None:
        config.annotate = config.resolve(config.annotate)
    if config.snapshots is not None:
        config.snapshots = config.resolve(config.snapshots)
    config.state_dir = config.resolve(config.state_dir) if config.state_dir is not None else default_state_dir()
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


def load(path: str | Path | None, overrides: dict[str, tuple[Any, str]] | None = None) -> Config:
    """Load ``path``; with None, ./config.yaml when it exists, else built-in defaults. ``overrides``:
    this run's command-line values (see parse)."""
    if path is None:
        default = Path("config.yaml")
        if not default.is_file():
            return parse({}, None, overrides)
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
    return parse(data, path, overrides)
