"""face-edge: the device command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from . import gallery as gallery_io
from .config import Config, check_name, with_model_scores
from .config import load as load_config_file
from .errors import SiamfaceError
from .learn import forget
from .loop.detect import largest_face, make_detector, photo_faces
from .loop.embed import Embedder
from .loop.scan import describe
from .runner import load_matcher

log = logging.getLogger("face-edge")


def load_config(args: argparse.Namespace) -> Config:
    """The config file with this run's command-line values put in before it is checked."""
    overrides: dict[str, tuple[object, str]] = {}

    def absolute(value: str) -> str:  # a path on the command line is relative to where the command runs
        return str(Path(value).absolute()) if Path(value).exists() else value

    for key, value, flag in (
        ("source", args.source and absolute(args.source), "--source"),
        ("model.path", args.model and str(Path(args.model).absolute()), "--model"),
        ("gallery", args.gallery and str(Path(args.gallery).absolute()), "--gallery"),
        ("match.threshold", args.threshold, "--threshold"),
        ("match.margin", args.margin, "--margin"),
        ("match.track_threshold", args.track_threshold, "--track-threshold"),
        ("model.threads", args.threads, "--threads"),
        ("web.listen", getattr(args, "web", None), "--web"),
    ):
        if value is not None:
            overrides[key] = (value, flag)
    config = load_config_file(args.config, overrides)
    if not args.log_level:
        logging.getLogger().setLevel(config.log_level.upper())
    return config


def cmd_run(args: argparse.Namespace) -> int:
    import signal

    from .runner import CameraGone, Runner

    runner = Runner(
        lambda: load_config(args), args.max_frames, Path(args.annotate).absolute() if args.annotate else None
    )
    handlers = {
        signal.SIGTERM: runner.request_stop,
        signal.SIGINT: runner.request_stop,
        signal.SIGHUP: runner.request_reload,
    }
    previous = {sig: signal.signal(sig, lambda *_, act=act: act()) for sig, act in handlers.items()}
    try:
        return runner.run()
    except CameraGone as exc:
        log.error("%s", exc)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_enroll(args: argparse.Namespace) -> int:
    from .enroll import enroll

    config = load_config(args)
    if args.person:
        name, photos = check_name(args.person[0], "--person"), args.person[1:]
        if not photos:
            raise SiamfaceError(f"--person {name}: no photos given (expected --person NAME PHOTO [PHOTO ...])")
        config.people = {name: [str(Path(p).absolute()) for p in photos]}
        people = {name: config.photos_of(name)}
    else:
        if not config.people:
            raise SiamfaceError(
                f"{config.path or 'config'}: people is empty; list people there or use --person NAME PHOTO ..."
            )
        people = {name: config.photos_of(name) for name in config.people}
    embedder = Embedder(config.model_path, config.threads)
    with gallery_io.locked(config.gallery_path):  # another enrolment waits, then adds to what this one wrote
        existing = gallery_io.load(config.gallery_path) if config.gallery_path.exists() else None
        new, report = enroll(
            existing, people, make_detector(config.detector), embedder, not args.quiet, config.gallery_path
        )
        for line in report.skipped:
            log.warning("skipped %s", line)
        gallery_io.save(new, config.gallery_path)
    print(
        f"enrolled {len(people)} people ({report.embedded} photos embedded, {report.reused} unchanged, "
        f"{len(report.skipped)} skipped); gallery {config.gallery_path} holds {len(new.people)} people"
    )
    return 0


def cmd_gallery_list(args: argparse.Namespace) -> int:
    config = load_config(args)
    gallery = gallery_io.load(config.gallery_path)
    print(f"{config.gallery_path}: model {gallery.model_sha256[:12]}…, {len(gallery.people)} people")
    for name in gallery.names():
        records = gallery.people[name]
        latest = max(r.enrolled_at for r in records)
        learned = gallery.learned.get(name, [])
        taught = f"; {len(learned)} learned, the last {max(r.learned_at for r in learned)}" if learned else ""
        print(f"  {name}: {len(records)} photo(s), last enrolled {latest}{taught}")
    return 0


def cmd_gallery_remove(args: argparse.Namespace) -> int:
    config = load_config(args)
    with gallery_io.locked(config.gallery_path):
        gallery = gallery_io.load(config.gallery_path)
        if args.name not in gallery.people:
            raise SiamfaceError(
                f"{config.gallery_path}: no person {args.name!r} (enrolled: {', '.join(gallery.names()) or 'nobody'})"
            )
        forget(gallery, args.name, learned_only=False)
        gallery_io.save(gallery, config.gallery_path)
    print(f"removed {args.name}; {len(gallery.people)} people left")
    return 0


def cmd_gallery_forget(args: argparse.Namespace) -> int:
    config = load_config(args)
    since = None
    if args.since is not None:
        try:
            when = datetime.fromisoformat(args.since)
        except ValueError:
            raise SiamfaceError(
                f"--since {args.since!r}: expected a time such as 2026-12-02T18:00 (UTC unless given)"
            ) from None
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        since = when.astimezone(timezone.utc).isoformat(timespec="seconds")
    with gallery_io.locked(config.gallery_path):
        gallery = gallery_io.load(config.gallery_path)
        if args.name not in gallery.people:
            raise SiamfaceError(
                f"{config.gallery_path}: no person {args.name!r} (enrolled: {', '.join(gallery.names()) or 'nobody'})"
            )
        gone = forget(gallery, args.name, args.learned, since)
        gallery_io.save(gallery, config.gallery_path)
    what = "learned templates" if args.learned or since else "templates (the person is removed)"
    print(f"{args.name}: {gone} {what} forgotten")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .images import read_image

    config = load_config(args)
    detector = make_detector(config.detector)
    embedder = Embedder(config.model_path, config.threads)
    config = with_model_scores(config, embedder.contract.scores, embedder.path)
    vectors = []
    for path in (args.image1, args.image2):
        image = read_image(path)
        box = largest_face(photo_faces(detector, image))
        if box is None:
            raise SiamfaceError(f"{path}: no face found")
        vectors.append(embedder.embed_faces(image, [box])[0])
    score = float(np.dot(vectors[0], vectors[1]))
    verdict = "same person" if score >= config.threshold else "different people"
    print(f"score {score:.4f}: {verdict} (threshold {config.threshold:.4f})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .loop.sources import open_source

    failures = 0
    state: dict[str, object] = {}

    def step(what: str, action: Callable[[], str]) -> None:
        nonlocal failures
        try:
            print(f"ok    {what}: {action()}")
        except SiamfaceError as exc:
            failures += 1
            print(f"FAIL  {what}: {exc}")

    def config_step() -> str:
        state["config"] = load_config(args)
        return str(state["config"].path or "built-in defaults")

    def model_step() -> str:
        embedder = state["embedder"] = Embedder(state["config"].model_path, state["config"].threads)
        config = state["config"] = with_model_scores(state["config"], embedder.contract.scores, embedder.path)
        return (
            f"{embedder.path} sha256 {embedder.fingerprint[:12]}… "
            f"({embedder.contract.description or 'no description'}); "
            f"match.threshold {config.threshold:.4f}, track_threshold {config.tracking.threshold:.4f}, "
            f"stranger_threshold {config.tracking.stranger_threshold:.4f}, margin {config.margin:.4f}"
        )

    def detector_step() -> str:
        state["detector"] = make_detector(state["config"].detector)
        return describe(state["config"].detector, state["config"].scan)

    def gallery_step() -> str:
        matcher = load_matcher(state["config"], state["embedder"])
        return f"{state['config'].gallery_path}: {len(matcher.names)} people"

    def source_step() -> str:
        source = open_source(state["config"].source, state["config"].base_dir)
        try:
            frame = source.read()
        finally:
            source.close()
        if frame is None:
            raise SiamfaceError(f"source {source.name}: delivered no frame")
        faces = len(state["detector"].detect(frame)) if "detector" in state else "?"
        return f"{source.name}: one {frame.shape[1]}x{frame.shape[0]} frame, {faces} face(s)"

    step("config", config_step)
    if "config" in state:
        step("model", model_step)
        step("detector", detector_step)
        if "embedder" in state:
            step("gallery", gallery_step)
        step("source", source_step)
    return 1 if failures else 0


def _print_json(report: dict) -> None:
    import json

    print(json.dumps(report, indent=None, sort_keys=True))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate
    from .evaluation.report import table

    config = load_config(args)
    if not args.images:
        raise SiamfaceError("evaluate: --images DIR is needed (identity folders <name>/<name>_NNNN.jpg)")
    images = Path(args.images)
    if not images.is_dir():
        raise SiamfaceError(f"--images {images}: no such folder")
    detector = make_detector(config.detector)
    embedder = Embedder(config.model_path, config.threads)
    config = with_model_scores(config, embedder.contract.scores, embedder.path)
    plots = Path(args.plots) if args.plots else None
    progress = not args.quiet
    if args.identify:
        result = evaluate.identification(
            images, detector, embedder, config.threshold, config.margin, args.enroll_count, args.max_people, progress
        )
        report = result.report
        if plots:
            from .evaluation import plots as plot

            report["plots"] = [
                str(
                    plot.dir_far_plot(
                        result.genuine_best,
                        result.genuine_correct,
                        result.stranger_best,
                        plots / "identification_dir_far.png",
                    )
                ),
                str(
                    plot.score_histogram(
                        result.genuine_best[result.genuine_correct],
                        result.stranger_best,
                        plots / "identification_scores.png",
                        "best score per probe",
                        config.threshold,
                        ("enrolled, named right", "strangers"),
                    )
                ),
            ]
    else:
        from .evaluation.pairs import read_pairs

        if not args.pairs:
            raise SiamfaceError("evaluate: --pairs FILE is needed (LFW pairs format), or --identify")
        pairs = read_pairs(args.pairs)
        paths = evaluate.pair_paths(pairs, images, Path(args.pairs))
        embedded = evaluate.embed_images([p for pair in paths for p in pair], detector, embedder, progress)
        result = evaluate.verification(pairs, paths, embedded, embedder.fingerprint)
        report = result.report
        if plots:
            from .evaluation import plots as plot

            genuine, impostor = result.scores[result.labels], result.scores[~result.labels]
            report["plots"] = [
                str(plot.roc_plot(result.scores, result.labels, plots / "roc.png", Path(args.pairs).name)),
                str(
                    plot.score_histogram(
                        genuine, impostor, plots / "scores.png", Path(args.pairs).name, report["best_threshold"]
                    )
                ),
            ]
    report["model"] = str(embedder.path)
    if args.json:
        _print_json(report)
    else:
        print(table(report, identify=args.identify))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .evaluation import calibrate as cal

    config = load_config(args)
    embedder = Embedder(config.model_path, config.threads)
    config = with_model_scores(config, embedder.contract.scores, embedder.path)
    gallery = gallery_io.load(config.gallery_path)
    gallery.check_model(embedder.fingerprint, embedder.contract.preprocess_version, config.gallery_path, embedder.path)
    if not 0 < args.far < 1:
        raise SiamfaceError(f"--far={args.far}, expected a rate between 0 and 1 (e.g. 1e-3)")
    detector = make_detector(config.detector)
    strangers: list[Path] = []
    if args.strangers:
        from .images import is_image_path

        folder = Path(args.strangers)
        strangers = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p)) if folder.is_dir() else []
        if not strangers:
            raise SiamfaceError(f"--strangers {folder}: no images found (expected a folder of face photos)")
    min_frames = config.tracking.min_frames
    scores = cal.gallery_calibration_scores(gallery, strangers, detector, embedder, min_frames, not args.quiet)
    genuine, impostor, track_genuine, track_impostor, tracks, missing = scores
    try:
        result = cal.calibrate(genuine, impostor, args.far)
        track_result = cal.calibrate(track_genuine, track_impostor, args.far)
    except ValueError as exc:
        raise SiamfaceError(f"{config.gallery_path}: {exc}") from None
    for warning in dict.fromkeys(result.warnings + track_result.warnings):
        log.warning("%s", warning)
    print(f"gallery     {config.gallery_path}: {len(gallery.people)} people, {len(strangers)} stranger photos")
    print(f"genuine     {cal.summary(result.genuine)}")
    print(f"impostor    {cal.summary(result.impostor)}")
    print(
        f"threshold   {result.threshold:.4f} for FAR {args.far:g} (true accept rate {result.tar:.3f}); "
        f"in use {config.threshold:.4f}"
    )
    print(
        f"tracks      {tracks} video-like tracks of {cal.TRACK_FRAMES} frames "
        f"from the photos ({missing} enrolled photos gone or without a clear face), named from frame {min_frames} on"
    )
    print(f"genuine     {cal.summary(track_result.genuine)}")
    print(f"impostor    {cal.summary(track_result.impostor)}")
    print(
        f"track threshold {track_result.threshold:.4f} for FAR {args.far:g} "
        f"(true accept rate {track_result.tar:.3f}); in use {config.tracking.threshold:.4f}"
    )
    if args.plot:
        try:
            from .evaluation.plots import score_histogram

            path = score_histogram(result.genuine, result.impostor, Path(args.plot), "calibration", result.threshold)
            tracks_path = Path(args.plot).with_name(f"{Path(args.plot).stem}-tracks.png")
            score_histogram(
                track_result.genuine, track_result.impostor, tracks_path, "calibration, tracks", track_result.threshold
            )
            print(f"plot        {path}, {tracks_path}")
        except SiamfaceError as exc:  # matplotlib is not part of the device install
            log.warning("no plot: %s", exc)
    if args.write:
        from .evaluation.config_edit import set_threshold

        if config.path is None:
            raise SiamfaceError("--write: no config file to write (give --config FILE)")
        set_threshold(config.path, result.threshold)
        set_threshold(config.path, track_result.threshold, "track_threshold")
        print(
            f"wrote match.threshold: {result.threshold:.4f}, match.track_threshold: {track_result.threshold:.4f} "
            f"to {config.path}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="face-edge", description="siamface on the device: find, embed and name faces."
    )
    parser.add_argument("--version", action="version", version=f"siamface {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default: ./config.yaml if present)")
    common.add_argument(
        "--source", help="override source: camera index, /dev/videoN, picamera2, URL, video, folder, image"
    )
    common.add_argument("--model", help="override model.path (an ONNX embedding model)")
    common.add_argument("--gallery", help="override the gallery file")
    common.add_argument("--threshold", type=float, help="override match.threshold")
    common.add_argument("--track-threshold", type=float, help="override match.track_threshold")
    common.add_argument("--margin", type=float, help="override match.margin")
    common.add_argument("--threads", type=int, help="override model.threads")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override logging.level")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="run the loop; one JSON line per recognition on stdout")
    run.add_argument("--max-frames", type=int, help="stop after this many frames")
    run.add_argument("--annotate", help="write annotated frames to this folder, or a .mp4/.avi file")
    run.add_argument(
        "--web", metavar="HOST:PORT", help="serve the page here for this run (override web.listen; 127.0.0.1:8080)"
    )
    run.set_defaults(func=cmd_run)

    enroll = sub.add_parser("enroll", parents=[common], help="build or update the gallery from the config's people")
    enroll.add_argument(
        "--person", nargs="+", metavar=("NAME", "PHOTO"), help="enrol one person from these photos instead"
    )
    enroll.add_argument("--quiet", action="store_true", help="no progress bar")
    enroll.set_defaults(func=cmd_enroll)

    gallery = sub.add_parser("gallery", help="inspect or edit the gallery")
    gallery_sub = gallery.add_subparsers(dest="gallery_command", required=True)
    gallery_sub.add_parser("list", parents=[common], help="list enrolled people").set_defaults(func=cmd_gallery_list)
    remove = gallery_sub.add_parser("remove", parents=[common], help="remove one person")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_gallery_remove)
    forget_cmd = gallery_sub.add_parser(
        "forget", parents=[common], help="forget a person, or what the camera taught about them (--learned)"
    )
    forget_cmd.add_argument("name")
    forget_cmd.add_argument("--learned", action="store_true", help="only the learned templates; the photos stay")
    forget_cmd.add_argument("--since", help="only templates learned at this time or later (ISO 8601, UTC unless given)")
    forget_cmd.set_defaults(func=cmd_gallery_forget)

    verify = sub.add_parser("verify", parents=[common], help="score two photos: same person or not")
    verify.add_argument("image1")
    verify.add_argument("image2")
    verify.set_defaults(func=cmd_verify)

    check = sub.add_parser("check", parents=[common], help="check config, model, gallery and source")
    check.set_defaults(func=cmd_check)

    evaluate = sub.add_parser(
        "evaluate", parents=[common], help="accuracy on a pairs file (LFW protocol) or --identify"
    )
    evaluate.add_argument("--pairs", help="pairs file in the LFW View-2 format")
    evaluate.add_argument("--images", help="folder of identity folders <name>/<name>_NNNN.jpg")
    evaluate.add_argument("--identify", action="store_true", help="open-set identification instead of verification")
    evaluate.add_argument("--enroll-count", type=int, default=2, help="--identify: photos enrolled per person")
    evaluate.add_argument("--max-people", type=int, help="--identify: use only the first N identities")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    evaluate.add_argument("--plots", help="write PNG plots (ROC, score histograms) to this folder")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(func=cmd_evaluate)

    calibrate = sub.add_parser("calibrate", parents=[common], help="choose the threshold for this gallery")
    calibrate.add_argument("--far", type=float, default=1e-3, help="target false accept rate (default 1e-3)")
    calibrate.add_argument("--strangers", help="folder of photos of people who are not enrolled")
    calibrate.add_argument("--plot", default="calibration.png", help="histogram PNG (default calibration.png)")
    calibrate.add_argument("--write", action="store_true", help="write the threshold into the config file")
    calibrate.add_argument("--quiet", action="store_true", help="no progress bar")
    calibrate.set_defaults(func=cmd_calibrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=(getattr(args, "log_level", None) or "info").upper(),
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        code = args.func(args)
    except SiamfaceError as exc:
        print(f"face-edge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # whoever read stdout went away (face-edge run | head -1): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    log.debug("done in %.2f s", time.perf_counter() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
