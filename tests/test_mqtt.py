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
from .page import free_port

paho = pytest.importorskip("paho.mqtt.client", reason="MQTT needs the [mqtt] extra")


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


def retained(port: int, topic: str) -> dict[str, str]:
    """What a subscriber arriving now is given on ``topic``: the retained messages, by topic."""
    client, messages = subscribe(port, topic)
    client.loop_stop()
    client.disconnect()
    return {t: payload for t, payload, kept in messages if kept}


def test_home_assistant_discovers_each_person_with_presence_last_seen_and_camera(broker, tmp_path, capsys):
    gallery = tmp_path / "g.npz"
    photo = str(REPO / "samples" / "astronaut.jpg")
    assert main(["enroll", "--quiet", "--gallery", str(gallery), "--person", "eileen_collins", photo]) == 0
    config = tmp_path / "config.yaml"
    config.write_text(
        f"source: {REPO / 'samples' / 'frames'}\ngallery: {gallery}\ncamera: front door\n"
        f"mqtt:\n  host: 127.0.0.1\n  port: {broker}\n  topic_prefix: ha-test\n"
    )
    client, messages = subscribe(broker, "ha-test/front_door/person/eileen_collins/state")
    assert main(["run", "--config", str(config)]) == 0
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()
    assert [payload for _, payload, _ in messages] == ["ON", "OFF"]  # enter, then leave

    found = retained(broker, "homeassistant/#")
    configs = {topic: json.loads(payload) for topic, payload in found.items()}
    person = [c for t, c in configs.items() if t.startswith("homeassistant/binary_sensor/siamface_front_door")]
    assert len(person) == 1 and person[0]["name"] == "eileen_collins"
    assert person[0]["device_class"] == "presence"
    assert person[0]["availability_topic"] == "ha-test/front_door/availability"
    assert person[0]["device"]["name"] == "siamface front door"
    state = retained(broker, person[0]["state_topic"])
    assert list(state.values()) == ["OFF"]  # away, for whoever asks later
    attributes = json.loads(retained(broker, person[0]["json_attributes_topic"]).popitem()[1])
    assert attributes["camera"] == "front door" and attributes["last_seen"].startswith("20")
    visitor = [c for t, c in configs.items() if t.startswith("homeassistant/event/siamface_front_door")]
    assert visitor[0]["event_types"] == ["visitor"]

    # Removed from the gallery while the service was stopped: its next start removes her entity from
    # Home Assistant (an empty retained config), and announces nobody in her place.
    assert main(["gallery", "remove", "--gallery", str(gallery), "eileen_collins"]) == 0
    assert main(["run", "--config", str(config)]) == 0
    time.sleep(0.5)
    left = retained(broker, "homeassistant/binary_sensor/#")
    assert left == {}, left


def test_a_stranger_reaches_home_assistant_as_a_visitor_event(broker, tmp_path):
    pytest.importorskip("bottle", reason="visitors are the page's: the [web] extra")
    from .page import Page, write_config

    config = write_config(
        tmp_path,
        str(REPO / "samples" / "frames"),
        {"nobody": [str(REPO / "samples" / "astronaut.jpg")]},
        mqtt={"host": "127.0.0.1", "port": broker},
    )
    from siamface.edge import gallery as gallery_io

    gallery = gallery_io.load(tmp_path / "gallery.npz")
    gallery.people = {}  # Eileen is a stranger here
    gallery_io.save(gallery, tmp_path / "gallery.npz")
    client, messages = subscribe(broker, "siamface/door/visitor")
    with Page(config) as page:
        page.wait_for_end_of_source()
        page.stop()
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()
    arrivals = [json.loads(payload) for _, payload, _ in messages]
    assert [(a["event_type"], a["visitor"], a["camera"]) for a in arrivals] == [("visitor", "v1", "door")]
