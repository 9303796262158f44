import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.arm64

SCRIPT = f"""
import sys
from siamface.edge.cli import main
code = main(["verify", "{REPO / "samples" / "astronaut.jpg"}", "{REPO / "samples" / "frames" / "frame_01.jpg"}"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "train", "export"))
print("HEAVY", heavy, code)
"""


def test_device_runtime_never_imports_the_workstation_stack():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert "score" in out  # a frame really went through detection and embedding
    assert "HEAVY [] 0" in out


PAGE_OFF = """
import sys
from siamface.edge.cli import main
code = main(["run", "--config", sys.argv[1]])
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "bottle" or m.startswith("siamface.edge.web"))
print("PAGE", loaded, code)
"""


def test_with_the_page_off_nothing_of_it_is_imported(tmp_path):
    gallery = tmp_path / "gallery.npz"
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {REPO / 'samples' / 'frames'}\ngallery: {gallery}\n")
    photo = str(REPO / "samples" / "astronaut.jpg")
    enroll = ["enroll", "--config", str(config), "--quiet", "--person", "eileen_collins", photo]
    subprocess.run([sys.executable, "-m", "siamface.edge.cli", *enroll], check=True, capture_output=True)
    run = subprocess.run(
        [sys.executable, "-c", PAGE_OFF, str(config)], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert '"name":"eileen_collins"' in run.stdout  # the loop really ran
    assert "PAGE [] 0" in run.stdout
