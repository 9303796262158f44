"""The systemd unit: systemd-analyze accepts it, and it says what the service relies on."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from siamface.edge.config import parse

from .conftest import REPO

UNIT = REPO / "systemd" / "siamface.service"


def test_systemd_analyze_verifies_the_unit(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    face_edge = Path(sys.executable).parent / "face-edge"
    unit = tmp_path / "siamface.service"  # ExecStart must exist for verify: point it at this venv
    unit.write_text(UNIT.read_text().replace("/opt/siamface/venv/bin/face-edge", str(face_edge)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and "siamface.service" not in result.stderr, result.stderr


def test_unit_declares_notify_watchdog_reload_and_hardening():
    lines = [line.split("=", 1) for line in UNIT.read_text().splitlines() if "=" in line and not line.startswith("#")]
    service = dict(lines)  # repeated keys (DeviceAllow) are collected below
    assert service["Type"] == "notify" and service["Restart"] == "on-failure" and int(service["WatchdogSec"]) > 0
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    # A camera missing at start must end in the loop's own exit 1 (service.exit_after), not a start timeout.
    assert int(service["TimeoutStartSec"]) > parse({}, None).exit_after
    assert service["StateDirectory"] == "siamface" and "video" in service["SupplementaryGroups"]
    for key, value in (
        ("ProtectSystem", "strict"),
        ("ProtectHome", "true"),
        ("PrivateTmp", "true"),
        ("NoNewPrivileges", "true"),
        ("DevicePolicy", "closed"),
    ):
        assert service[key] == value
    devices = {value for key, value in lines if key == "DeviceAllow"}
    assert {"char-video4linux rw", "char-media rw", "char-dma_heap rw"} <= devices


def test_install_script_parses():
    subprocess.run(["bash", "-n", str(REPO / "systemd" / "install.sh")], check=True)
