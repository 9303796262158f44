"""MQTT against a real Mosquitto broker on 127.0.0.1, and the Prometheus endpoint, in one run."""

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from siamface.edge.cli import main

from .conftest import REPO

paho = pytest.importorskip("paho.mqtt.client", reason="MQTT needs the [mqtt] extra")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    if shutil.which("mosquitto") is None and not shutil.which("/usr/sbin/mosquitto"):
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "mosquitto did not start"
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=5)


def subscribe(port: int, topic: str) -> tuple[object, list]:
    messages: list = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: messages.append((m.topic, m.payload.decode(), m.retain))
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    time.sleep(0.3)
    return client, messages


def test_events_go_to_camera_and_person_topics_with_retained_availability(broker, tmp_path, capsys):
    gallery = tmp_path / "g.npz"
    assert (
        main(
            [
                "enroll",
                "--quiet",
                "--gallery",
                str(gallery),
                "--person",
                "eileen_collins",
                str(REPO / "samples" / "astronaut.jpg"),
            ]
        )
        == 0
    )
    metrics_port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"source: {REPO / 'samples' / 'frames'}\ngallery: {gallery}\ncamera: front door\n"
        f"mqtt:\n  host: 127.0.0.1\n  port: {broker}\nprometheus:\n  port: {metrics_port}\n"
    )
    client, messages = subscribe(broker, "siamface/#")
    capsys.readouterr()
    assert main(["run", "--config", str(config)]) == 0
    printed = capsys.readouterr().out.splitlines()
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()
    by_topic: dict = {}
    for topic, payload, _ in messages:
        by_topic.setdefault(topic, []).append(payload)
    assert by_topic["siamface/front_door/events"] == printed
    assert by_topic["siamface/front_door/person/eileen_collins"] == printed
    assert [json.loads(p)["event"] for p in printed] == ["enter", "leave"]
    assert by_topic["siamface/front_door/availability"] == ["online", "offline"]

    # A subscriber that arrives later still learns the camera is offline: availability is retained.
    late, late_messages = subscribe(broker, "siamface/front_door/availability")
    late.loop_stop()
    late.disconnect()
    assert late_messages == [("siamface/front_door/availability", "offline", True)]


def test_prometheus_endpoint_counts_frames_faces_and_events(tmp_path):
    from siamface.edge.outputs.prometheus import Metrics

    metrics = Metrics(0)
    metrics.frames.inc(3)
    metrics.events.labels("enter", "named").inc()
    metrics.stage_seconds.labels("detect").observe(0.05)
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics.port}/metrics", timeout=5).read().decode()
    metrics.close()
    assert "siamface_frames_total 3.0" in body
    assert 'siamface_events_total{event="enter",outcome="named"} 1.0' in body
    assert 'siamface_stage_seconds_count{stage="detect"} 1.0' in body
