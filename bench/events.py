"""The event benchmark: does the device loop announce the right people on real video?

    python -m bench.events [--clips DIR] [--detection shipped haar fast full-range] [--model FILE.onnx]
                           [--threshold T] [--track-threshold T] [--turned-heads on|off] [--learning]
                           [--no-dlib]
                           [--json FILE]

Each clip folder of ``../shared/data/video`` (or $SIAMFACE_DATA/video) holds ``clip.mp4``,
``refs/<person>/<photos>`` (not frames of the clip) and ``truth.json``. Each clip's people are
enrolled from their reference photos as a user would enrol them (a clip with nobody to name gets
everyone from the other clips' references, and must name nobody), and the clip is played through
the device loop at the shipped config.yaml, in media time. Per clip and in total:

- named: appearances (``appears: true``) that got an ``enter`` or ``identified`` event with their name;
- wrong: names given of enrolled people who do not appear (``appears: false``, or anyone in a clip
  with nobody to name); a person marked doubtful (``appears`` a note) counts neither way;
- unknown enters: ``enter`` events of ``unknown``;
- seconds from ``first_seen_s`` to the first event with the name (truth times are approximate);
- frames named beside face_recognition (dlib HOG boxes, distance at most 0.55), on the frames
  sampled at 4 a second: of each appearing person, frames in which a track showing them carries
  their name, and frames face_recognition names them on (cached under the user's cache folder);
- milliseconds a frame of the loop, detection to events (decoding excluded), on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from siamface.edge import config as config_io
from siamface.edge import gallery as gallery_io
from siamface.edge.enroll import enroll
from siamface.edge.loop.blazeface import BlazeFaceDetector
from siamface.edge.loop.detect import Detector, DetectorSettings, make_detector
from siamface.edge.loop.embed import Embedder
from siamface.edge.loop.match import UNKNOWN
from siamface.edge.loop.scan import Scanner, ScanSettings
from siamface.edge.loop.sources import open_source
from siamface.edge.loop.track import Tracker, TrackEvent
from siamface.edge.runner import learn_ended, load_runtime, track_frame
from siamface.export.blazeface import full_range_path

from .frames import DATA, REPO

DETECTION = {
    "shipped": None,  # config.yaml as it is
    "haar": (DetectorSettings(kind="haar"), ScanSettings()),  # the default before BlazeFace
    # MediaPipe's full-range network (not shipped), whole frame only; made on the workstation by
    # `python -m siamface.export.blazeface --range full` (docs/detection.md).
    "full-range": (DetectorSettings(kind="blazeface", tiles=1, min_score=0.6), ScanSettings()),
    "fast": (DetectorSettings(kind="haar", downscale=2.0), ScanSettings(full_every=30)),  # Haar's fastest
}
SAMPLES_PER_SECOND = 4.0
DLIB_TOLERANCE = 0.55  # stricter than face_recognition's default 0.6, as truth.json was made


@dataclass
class ClipResult:
    clip: str
    appearances: list[str]
    named: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    unknown_enters: int = 0
    seconds_to_name: dict[str, float] = field(default_factory=dict)
    frames_named: dict[str, int] = field(default_factory=dict)  # on the sampled frames
    frames_named_dlib: dict[str, int] = field(default_factory=dict)
    ms_a_frame: float = 0.0  # the loop (detection to events), decoding excluded, one thread
    events: list[dict] = field(default_factory=list)


def clips(root: Path) -> list[Path]:
    found = sorted(d for d in root.iterdir() if (d / "truth.json").is_file()) if root.is_dir() else []
    if not found:
        raise SystemExit(f"no clips in {root} (expected folders with clip.mp4, refs/ and truth.json)")
    return found


def references(clip: Path) -> dict[str, list[Path]]:
    refs = clip / "refs"
    if not refs.is_dir():
        return {}
    return {d.name: sorted(p for p in d.iterdir() if p.is_file()) for d in sorted(refs.iterdir()) if d.is_dir()}


def enrolled_for(clip: Path, every_clip: list[Path]) -> dict[str, list[Path]]:
    """The clip's own people, or for a clip with nobody to name, everyone of the other clips."""
    own = references(clip)
    if own:
        return own
    return {name: photos for other in every_clip for name, photos in references(other).items()}


def variant_detector(detection: str, settings: DetectorSettings) -> Detector:
    """The detector of a variant: the full-range network from the file the exporter writes."""
    if detection != "full-range":
        return make_detector(settings)
    path = full_range_path()
    if not path.is_file():
        raise SystemExit(f"{path} not found: make it with python -m siamface.export.blazeface --range full")
    return BlazeFaceDetector(settings, path)


def play(
    clip: Path, config: config_io.Config, samples: set[int], detection: str = "shipped"
) -> tuple[list[tuple[int, float, TrackEvent]], dict[int, set[str]], float]:
    """The clip through the device loop: events with (frame, media time), the names the tracks
    carry on each sampled frame, and the loop's milliseconds a frame."""
    runtime = load_runtime(config)
    runtime.pipeline.detector = Scanner(variant_detector(detection, config.detector), config.scan)
    tracker = Tracker(runtime.pipeline.matcher, runtime.config.tracking)
    source = open_source(str(clip / "clip.mp4"))
    events, named, index, seconds = [], {}, 0, 0.0
    try:
        while (frame := source.read()) is not None:
            started = time.perf_counter()
            _, new = track_frame(runtime, tracker, frame, source.time, source.stills)
            learn_ended(runtime, tracker)  # learning.enabled: the gallery file learns as the runner's does
            seconds += time.perf_counter() - started
            events += [(index, source.time, e) for e in new]
            if index in samples:
                named[index] = {t.name for t in tracker.tracks if t.last_face == source.time and t.name}
            index += 1
        events += [(index, source.time, e) for e in tracker.close(source.time, source.stills)]
        learn_ended(runtime, tracker)
    finally:
        source.close()
    return events, named, 1000 * seconds / max(index, 1)


def sampled_frames(clip: Path) -> tuple[float, list[int]]:
    capture = cv2.VideoCapture(str(clip / "clip.mp4"))
    fps, count = capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    step = max(1, round(fps / SAMPLES_PER_SECOND))
    return fps, list(range(0, count, step))


def dlib_names(clip: Path, people: dict[str, list[Path]], samples: list[int]) -> dict[int, set[str]] | None:
    """face_recognition's names on the sampled frames, cached (it takes about a second a frame)."""
    from . import dlib_side

    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "siamface" / "bench-events"
    stamp = f"{clip.name}-{(clip / 'clip.mp4').stat().st_size}-{'-'.join(sorted(people))}-{DLIB_TOLERANCE}"
    cached = cache_root / f"{stamp}.json"
    if cached.is_file():
        return {int(k): set(v) for k, v in json.loads(cached.read_text()).items()}
    fr = dlib_side.face_recognition_module()
    if fr is None:
        return None
    known_names, known = [], []
    for name, photos in people.items():
        for photo in photos:
            rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
            boxes = dlib_side.hog_faces(fr, rgb)
            if boxes:
                known_names.append(name)
                known.append(fr.face_encodings(rgb, [dlib_side.to_css(max(boxes, key=lambda b: b[2] * b[3]))])[0])
    wanted, result = set(samples), {}
    capture = cv2.VideoCapture(str(clip / "clip.mp4"))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            names = set()
            boxes = dlib_side.hog_faces(fr, rgb)
            for vector in fr.face_encodings(rgb, [dlib_side.to_css(b) for b in boxes]) if boxes else []:
                distances = fr.face_distance(np.asarray(known), vector)
                if len(distances) and distances.min() <= DLIB_TOLERANCE:
                    names.add(known_names[int(np.argmin(distances))])
            result[index] = names
        index += 1
    capture.release()
    cache_root.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps({k: sorted(v) for k, v in result.items()}))
    return result


def score(clip: Path, truth: dict, enrolled: set[str], events: list[tuple[int, float, TrackEvent]]) -> ClipResult:
    people = truth.get("people", [])
    appearing = {p["name"]: p for p in people if p.get("appears") is True}
    doubtful = {p["name"] for p in people if p.get("appears") not in (True, False)}
    result = ClipResult(clip.name, sorted(appearing))
    first_named: dict[str, float] = {}
    for _, at, e in events:
        if e.kind in ("enter", "identified") and e.name != UNKNOWN:
            first_named.setdefault(e.name, at)
        result.unknown_enters += e.kind == "enter" and e.name == UNKNOWN
    result.named = [n for n in sorted(appearing) if n in first_named]
    result.missed = [n for n in sorted(appearing) if n not in first_named]
    result.wrong = sorted(n for n in first_named if n not in appearing and n not in doubtful and n in enrolled)
    for name in result.named:
        seen = appearing[name].get("first_seen_s")
        if seen is not None:
            result.seconds_to_name[name] = round(max(0.0, first_named[name] - seen), 2)
    result.events = [
        {"frame": i, "time": round(t, 2), "event": e.kind, "track": e.track, "name": e.name, "score": round(e.score, 4)}
        for i, t, e in events
    ]
    return result


def run(
    root: Path,
    detection: str,
    threshold: float | None,
    track_threshold: float | None,
    with_dlib: bool,
    model: Path | None = None,
    turned_heads: bool | None = None,
    learning: bool = False,
) -> list[ClipResult]:
    """``learning``: the gallery learns from the camera, and each clip is played twice on it."""
    base = config_io.load(REPO / "config.yaml")
    base = replace(base, learning=replace(base.learning, enabled=learning))
    if turned_heads is not None:
        base = replace(base, tracking=replace(base.tracking, turned_heads=turned_heads))
    if model is not None:
        base = replace(base, model_path=model.resolve())
    if DETECTION[detection]:
        detector, scan = DETECTION[detection]
        base = replace(base, detector=replace(base.detector, **_changed(detector)), scan=scan)
    if threshold is not None:
        base = replace(base, threshold=threshold)
    if track_threshold is not None:
        base = replace(base, tracking=replace(base.tracking, threshold=track_threshold))
    every = clips(root)
    embedder = Embedder(base.model_path, base.threads)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for clip in every:
            truth = json.loads((clip / "truth.json").read_text())
            people = enrolled_for(clip, every)
            # The full-range network finds no face in tight reference crops: enrolment uses the shipped one.
            enrol_with = DetectorSettings() if detection == "full-range" else base.detector
            gallery, report = enroll(None, people, make_detector(enrol_with), embedder, progress=False)
            for line in report.skipped:
                print(f"  {clip.name}: skipped {line}", file=sys.stderr)
            path = Path(scratch) / f"{clip.name}.npz"
            gallery_io.save(gallery, path)
            _, samples = sampled_frames(clip)
            dlib = dlib_names(clip, people, samples) if with_dlib else None
            for turn in range(2 if learning else 1):
                events, named, ms = play(clip, replace(base, gallery_path=path), set(samples), detection)
                result = score(clip, truth, set(gallery.people), events)
                if learning:
                    learned = sum(len(r) for r in gallery_io.load(path).learned.values())
                    result.clip = f"{clip.name} ({'first' if turn == 0 else 'second'} play, {learned} learned)"
                result.ms_a_frame = round(ms, 2)
                for name in result.appearances:
                    result.frames_named[name] = sum(name in names for names in named.values())
                    if dlib is not None:
                        result.frames_named_dlib[name] = sum(name in names for names in dlib.values())
                results.append(result)
                print(_line(result), flush=True)
    return results


def _changed(settings: DetectorSettings) -> dict:
    """The detector fields the variant sets; the rest stay as config.yaml has them."""
    default = DetectorSettings()
    return {k: v for k, v in asdict(settings).items() if v != getattr(default, k)}


def _line(r: ClipResult) -> str:
    frames = ", ".join(
        f"{n} {r.frames_named.get(n, 0)}" + (f"/{r.frames_named_dlib[n]}" if n in r.frames_named_dlib else "")
        for n in r.appearances
    )
    delays = ", ".join(f"{n} {s:.2f} s" for n, s in r.seconds_to_name.items())
    return (
        f"  {r.clip:26s} named {len(r.named)}/{len(r.appearances)}"
        f"{' (missed ' + ', '.join(r.missed) + ')' if r.missed else ''}, wrong {len(r.wrong)}"
        f"{' (' + ', '.join(r.wrong) + ')' if r.wrong else ''}, unknown enters {r.unknown_enters}; "
        f"to name: {delays or '-'}; sampled frames named (ours/dlib): {frames or '-'}; {r.ms_a_frame:.1f} ms a frame"
    )


def totals(results: list[ClipResult]) -> dict:
    delays = [s for r in results for s in r.seconds_to_name.values()]
    return {
        "appearances": sum(len(r.appearances) for r in results),
        "named": sum(len(r.named) for r in results),
        "wrong": sum(len(r.wrong) for r in results),
        "unknown_enters": sum(r.unknown_enters for r in results),
        "median_seconds_to_name": float(np.median(delays)) if delays else None,
        "frames_named": sum(sum(r.frames_named.values()) for r in results),
        "frames_named_dlib": sum(sum(r.frames_named_dlib.values()) for r in results) or None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DATA / "video")
    parser.add_argument("--detection", nargs="+", choices=sorted(DETECTION), default=["shipped", "haar"])
    parser.add_argument("--model", type=Path, help="an ONNX model instead of the bundled one (its own match.* scores)")
    parser.add_argument("--threshold", type=float, help="match.threshold instead of config.yaml's")
    parser.add_argument("--track-threshold", type=float, help="match.track_threshold instead of config.yaml's")
    parser.add_argument("--no-dlib", action="store_true", help="skip the face_recognition comparison")
    parser.add_argument("--turned-heads", choices=("on", "off"), help="tracking.turned_heads instead of config.yaml's")
    parser.add_argument("--learning", action="store_true", help="the gallery learns; each clip is played twice")
    parser.add_argument("--json", type=Path, help="write every figure and event here")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    if not args.clips.is_dir():
        print(f"skipped: no clips at {args.clips} (set SIAMFACE_DATA to the face data folder)")
        return 0
    report = {}
    for detection in args.detection:
        print(f"detection: {detection}")
        turned = None if args.turned_heads is None else args.turned_heads == "on"
        dlib = not args.no_dlib
        results = run(
            args.clips, detection, args.threshold, args.track_threshold, dlib, args.model, turned, args.learning
        )
        total = totals(results)
        print(
            f"  total: named {total['named']}/{total['appearances']}, wrong {total['wrong']}, "
            f"unknown enters {total['unknown_enters']}, median seconds to name {total['median_seconds_to_name']}, "
            f"sampled frames named {total['frames_named']} (face_recognition {total['frames_named_dlib']})"
        )
        report[detection] = {"total": total, "clips": [asdict(r) for r in results]}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
