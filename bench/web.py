"""What the page costs the device: memory, import time and time per frame, with it off and on.

    python -m bench.web [--clip musah_hallway_walkup] [--runs 5] [--against REV] [--json FILE]

Each run is a fresh `face-edge run` over a shared clip at the shipped settings. Off: the page not
configured. On: `--web 127.0.0.1:PORT` with a client polling the live view ten times a second, as an
open Live page does. `--against REV` also runs the device code of another commit (git archive of its
edge/) with the page off: the loop before the page existed. Time per frame is the loop's own, from
its log (first frame to the source's end); memory is the peak RSS (VmHWM); start-up is a one-frame
run's wall time, page off. The import cost is that of the page's modules and bottle in a process
that already holds the loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import yaml

from siamface.edge.enroll import enroll
from siamface.edge.loop.detect import make_detector
from siamface.edge.loop.embed import Embedder

from . import events as clips

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SIAMFACE_DATA", REPO.parent / "shared" / "data"))
IMPORT = """
import time, siamface.edge.runner
t = time.perf_counter()
import siamface.edge.web.feed
print(time.perf_counter() - t)
"""


def setup(folder: Path, clip: Path) -> Path:
    from siamface.edge import config as config_io
    from siamface.edge import gallery as gallery_io

    base = yaml.safe_load((REPO / "config.yaml").read_text())
    base.update(source=str(clip / "clip.mp4"), gallery=str(folder / "gallery.npz"), people={})
    base["web"]["state_dir"] = str(folder / "state")
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(base))
    # For the code before the page, which knows neither setting (the defaults are the same).
    del base["web"], base["mqtt"]["discovery_prefix"]
    (folder / "config-before.yaml").write_text(yaml.safe_dump(base))
    config = config_io.load(path)
    gallery, _ = enroll(None, clips.references(clip), make_detector(config.detector), Embedder(), False)
    gallery_io.save(gallery, folder / "gallery.npz")
    return path


def _stamp(line: str) -> float:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def run_once(config: Path, web: bool, pythonpath: Path | None = None) -> dict:
    """One run: ms per frame (from the log), peak RSS in MB."""
    port = None
    if pythonpath:
        config = config.with_name("config-before.yaml")
    command = [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config)]
    if web:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command += ["--web", f"127.0.0.1:{port}"]
    env = {**os.environ, **({"PYTHONPATH": str(pythonpath)} if pythonpath else {})}
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
    stop = threading.Event()
    if web:
        threading.Thread(target=_poll, args=(port, stop), daemon=True).start()
    peak = 0.0
    end_mark = "the page stays up" if web else "mean ms per frame"
    while True:
        log.seek(0)
        text = log.read()
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak = max(peak, float(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024)
        except (OSError, StopIteration):
            pass
        if end_mark in text or process.poll() is not None:
            break
        time.sleep(0.05)
    stop.set()
    if web:
        process.terminate()
    process.wait(timeout=30)
    log.seek(0)
    lines = log.read().splitlines()
    if not any("running on" in x for x in lines):
        sys.exit(f"bench.web: {' '.join(command)} did not run: {lines[-1] if lines else 'no output'}")
    started = next(_stamp(x) for x in lines if "running on" in x)
    ended = next(_stamp(x) for x in lines if end_mark in x or "mean ms per frame" in x)
    frames = next(int(x.split(" INFO ")[1].split()[0]) for x in lines if "mean ms per frame" in x)
    return {"ms_per_frame": 1000 * (ended - started) / frames, "peak_rss_mb": peak}


def start_up(config: Path, pythonpath: Path | None = None) -> float:
    """Seconds from process start to the end of a one-frame run (page off): start-up and one frame."""
    if pythonpath:
        config = config.with_name("config-before.yaml")
    env = {**os.environ, **({"PYTHONPATH": str(pythonpath)} if pythonpath else {})}
    started = time.perf_counter()
    command = [sys.executable, "-m", "siamface.edge.cli", "run", "--config", str(config), "--max-frames", "1"]
    subprocess.run(command, env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def _poll(port: int, stop: threading.Event) -> None:
    while not stop.wait(0.1):
        for path in ("/api/live", "/live.jpg"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).read()
            except OSError:
                pass


def old_code(rev: str, folder: Path) -> Path:
    """The device code of ``rev`` as an importable siamface package under ``folder``."""
    archive = subprocess.run(
        ["git", "archive", "--prefix=siamface/", rev, "edge"], cwd=REPO, capture_output=True, check=True
    )
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    (folder / "siamface" / "__init__.py").write_text("")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="musah_hallway_walkup")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", help="a commit whose device code also runs, page off")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    clip = DATA / "video" / args.clip
    if not (clip / "clip.mp4").is_file():
        sys.exit(f"bench.web: {clip}/clip.mp4 not found: set SIAMFACE_DATA to the face data folder")
    with tempfile.TemporaryDirectory() as tmp:
        config = setup(Path(tmp), clip)
        variants = {"page off": (False, None), "page on, Live open": (True, None)}
        if args.against:
            variants[f"{args.against}, page off"] = (False, old_code(args.against, Path(tmp) / "old"))
        results: dict[str, list[dict]] = {name: [] for name in variants}
        for _ in range(args.runs):  # interleaved, so that the machine's drift falls on every variant alike
            for name, (web, path) in variants.items():
                results[name].append(run_once(config, web, path))
        starts: dict[str, list[float]] = {name: [] for name, (web, _) in variants.items() if not web}
        for _ in range(2 * args.runs):
            for name in starts:
                starts[name].append(start_up(config, variants[name][1]))
        imports = [
            float(subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True).stdout)
            for _ in range(args.runs)
        ]
    report = {
        name: {
            key: [round(f([r[key] for r in runs]), 2) for f in (statistics.median, min, max)]
            for key in ("ms_per_frame", "peak_rss_mb")
        }
        for name, runs in results.items()
    }
    for name, seconds in starts.items():
        report[f"{name}: start-up and one frame, s"] = [round(f(seconds), 3) for f in (statistics.median, min, max)]
    report["import ms (page modules and bottle)"] = round(1000 * statistics.median(imports), 1)
    print(f"{args.clip}, {args.runs} runs each: [median, min, max]")
    for name, values in report.items():
        print(f"  {name}: {values}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
