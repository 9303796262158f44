"""Events to an MQTT broker (paho-mqtt, the [mqtt] extra), on topics per camera and per person.

``<prefix>/<camera>/events`` gets every event, ``<prefix>/<camera>/person/<name>`` that person's;
``<prefix>/<camera>/availability`` is a retained ``online``, with ``offline`` as the last will.
With ``mqtt.discovery_prefix`` set (Home Assistant's ``homeassistant``), each enrolled person is
announced as an entity (homeassistant.py): retained ``ON``/``OFF`` on
``<prefix>/<camera>/person/<name>/state``, last seen and camera on ``.../attributes``; strangers'
arrivals go to ``<prefix>/<camera>/visitor``. paho runs its own network thread and queues while
the broker is away, so the frame loop never waits.
"""

from __future__ import annotations

import json
import logging
import re

from ..errors import SiamfaceError
from . import homeassistant as ha
from .events import Event

log = logging.getLogger(__name__)


def topic_part(text: str) -> str:
    """A name made safe for one topic level (no separators or wildcards)."""
    return re.sub(r"[/+#\s]+", "_", text) or "_"


OFFLINE_QUEUE = 1000  # messages held while the broker is away; paho refuses more until it is back


class MqttPublisher:
    def __init__(
        self,
        host: str,
        port: int,
        camera: str,
        prefix: str = "siamface",
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        discovery: str | None = None,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise SiamfaceError(
                "mqtt.host is set but paho-mqtt is not installed: pip install 'siamface[mqtt]'"
            ) from None
        self._base = f"{topic_part(prefix)}/{topic_part(camera)}"
        self._camera, self._discovery = camera, discovery
        self._announced: set[str] = set()  # people whose discovery config is on the broker
        self._names: list[str] = []
        self.availability = f"{self._base}/availability"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"siamface-{topic_part(camera)}")
        self._client.will_set(self.availability, "offline", qos=1, retain=True)
        if username:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 30)
        # While the broker is away events queue in memory: a bounded number, not all of a long outage.
        self._client.max_queued_messages_set(OFFLINE_QUEUE)
        self._queue_full = mqtt.MQTT_ERR_QUEUE_SIZE
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("mqtt: broker refused the connection (%s)", reason_code)
            return
        client.publish(self.availability, "online", qos=1, retain=True)
        if self._discovery:  # again on every connection: a broker without persistence forgets retained configs
            self._announced = set()
            self.announce(self._names)
            # The configs already on the broker: those of people removed while we were away are cleared.
            client.subscribe(ha.config_topic(self._discovery, "binary_sensor", self._camera, "+"), qos=1)

    def _on_message(self, client, userdata, message) -> None:
        ours = {ha.config_topic(self._discovery, "binary_sensor", self._camera, ha.object_id(n)) for n in self._names}
        if message.retain and message.payload and message.topic not in ours:
            client.publish(message.topic, "", qos=1, retain=True)

    def _person_topic(self, name: str) -> str:
        return f"{self._base}/person/{topic_part(name)}"

    def announce(self, names: list[str]) -> None:
        """Home Assistant's discovery configs for ``names`` (everyone enrolled); people no longer
        enrolled lose their entity."""
        self._names = list(names)
        if not self._discovery:
            return
        for gone in self._announced - set(names):
            topic = ha.config_topic(self._discovery, "binary_sensor", self._camera, ha.object_id(gone))
            self._client.publish(topic, "", qos=1, retain=True)
        for name in sorted(set(names) - self._announced):
            person = self._person_topic(name)
            config = ha.person_config(
                name, self._camera, self._base, self.availability, f"{person}/state", f"{person}/attributes"
            )
            topic = ha.config_topic(self._discovery, "binary_sensor", self._camera, ha.object_id(name))
            self._client.publish(topic, json.dumps(config), qos=1, retain=True)
        if not self._announced:
            visitor = ha.visitor_config(self._camera, self.availability, f"{self._base}/visitor")
            topic = ha.config_topic(self._discovery, "event", self._camera, "visitor")
            self._client.publish(topic, json.dumps(visitor), qos=1, retain=True)
        self._announced = set(names)

    def publish(self, event_json: str, event: Event) -> None:
        first = self._client.publish(f"{self._base}/events", event_json, qos=1)
        self._client.publish(self._person_topic(event.name), event_json, qos=1)
        if first.rc == self._queue_full:
            log.warning("mqtt: broker away and %d messages waiting: event dropped", OFFLINE_QUEUE)
        if not self._discovery:
            return
        state = ha.presence(event)
        if state is not None:
            person = self._person_topic(event.name)
            self._client.publish(f"{person}/state", state[0], qos=1, retain=True)
            self._client.publish(f"{person}/attributes", state[1], qos=1, retain=True)
        arrival = ha.visitor_event(event)
        if arrival is not None:
            self._client.publish(f"{self._base}/visitor", arrival, qos=1)

    def close(self, timeout: float = 3.0) -> None:
        info = self._client.publish(self.availability, "offline", qos=1, retain=True)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):  # never connected: nothing to say goodbye to
            pass
        self._client.disconnect()
        self._client.loop_stop()
