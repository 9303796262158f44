"""Home Assistant's MQTT discovery: each enrolled person an entity, present or away, with when and
on which camera they were last seen; strangers as events.

Following Home Assistant's conventions (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
a retained config on ``<discovery>/<component>/<node>/<object>/config``, an empty retained payload
to remove an entity, availability from our own availability topic, one device per camera.
"""

from __future__ import annotations

import hashlib
import json
import re

from .. import __version__
from ..loop.match import UNKNOWN
from .events import Event


def object_id(name: str) -> str:
    """A name as Home Assistant's ids allow ([a-zA-Z0-9_-]), still one per name."""
    plain = re.sub(r"[^a-zA-Z0-9_-]+", "_", name).strip("_")[:40] or "person"
    return f"{plain}_{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def node_id(camera: str) -> str:
    return f"siamface_{object_id(camera)}"


def device(camera: str) -> dict:
    return {
        "identifiers": [node_id(camera)],
        "name": f"siamface {camera}",
        "manufacturer": "siamface",
        "model": "face-edge",
        "sw_version": __version__,
    }


def person_config(name: str, camera: str, base: str, availability: str, state: str, attributes: str) -> dict:
    """A presence binary sensor: on while the person is in view of this camera; the attributes say
    when and where they were last seen."""
    return {
        "name": name,
        "unique_id": f"{node_id(camera)}_{object_id(name)}",
        "device_class": "presence",
        "state_topic": state,
        "json_attributes_topic": attributes,
        "availability_topic": availability,
        "device": device(camera),
    }


def visitor_config(camera: str, availability: str, topic: str) -> dict:
    return {
        "name": "Visitor",
        "unique_id": f"{node_id(camera)}_visitor",
        "event_types": ["visitor"],
        "state_topic": topic,
        "availability_topic": availability,
        "device": device(camera),
    }


def config_topic(discovery: str, component: str, camera: str, obj: str) -> str:
    return f"{discovery}/{component}/{node_id(camera)}/{obj}/config"


def presence(event: Event) -> tuple[str, str] | None:
    """The state and attributes payloads an event gives its person's entity, if any."""
    if event.name == UNKNOWN:
        return None
    state = "OFF" if event.event == "leave" else "ON"
    return state, json.dumps({"last_seen": event.time, "camera": event.camera, "track": event.track})


def visitor_event(event: Event) -> str | None:
    """The Home Assistant event a stranger's arrival gives (only with the page on: it names visitors)."""
    if event.event != "enter" or event.name != UNKNOWN or not event.visitor:
        return None
    return json.dumps({"event_type": "visitor", "visitor": event.visitor, "camera": event.camera, "time": event.time})
