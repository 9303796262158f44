"""Events to an MQTT broker (paho-mqtt, the [mqtt] extra), on topics per camera and per person.

``<prefix>/<camera>/events`` gets every event, ``<prefix>/<camera>/person/<name>`` that person's;
``<prefix>/<camera>/availability`` is a retained ``online``, with ``offline`` as the last will.
paho runs its own network thread and queues while the broker is away, so the frame loop never waits.
"""

from __future__ import annotations

import logging
import re

from ..errors import SiamfaceError

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
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise SiamfaceError(
                "mqtt.host is set but paho-mqtt is not installed: pip install 'siamface[mqtt]'"
            ) from None
        self._base = f"{topic_part(prefix)}/{topic_part(camera)}"
        self.availability = f"{self._base}/availability"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"siamface-{topic_part(camera)}")
        self._client.will_set(self.availability, "offline", qos=1, retain=True)
        if username:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
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

    def publish(self, event_json: str, name: str) -> None:
        first = self._client.publish(f"{self._base}/events", event_json, qos=1)
        self._client.publish(f"{self._base}/person/{topic_part(name)}", event_json, qos=1)
        if first.rc == self._queue_full:
            log.warning("mqtt: broker away and %d messages waiting: event dropped", OFFLINE_QUEUE)

    def close(self, timeout: float = 3.0) -> None:
        info = self._client.publish(self.availability, "offline", qos=1, retain=True)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):  # never connected: nothing to say goodbye to
            pass
        self._client.disconnect()
        self._client.loop_stop()
