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
