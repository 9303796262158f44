"""Events POSTed as JSON to a URL, from a thread: a slow or dead server never blocks the frame loop."""

from __future__ import annotations

import http.client
import logging
import queue
import threading
import time
import urllib.error
import urllib.request

log = logging.getLogger(__name__)


class Webhook:
    def __init__(
        self, url: str, token: str | None = None, timeout: float = 2.0, retries: int = 3, backlog: int = 100
    ) -> None:
        self.url = url
        self._token = token
        self._timeout = timeout
        self._retries = retries
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=backlog)
        self.sent = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    def send(self, event_json: str) -> None:
        """Queue one event; never waits. When the backlog is full the event is dropped and counted."""
        try:
            self._queue.put_nowait(event_json.encode())
        except queue.Full:
            self.dropped += 1
            log.warning("webhook %s: backlog full, event dropped (%d so far)", self.url, self.dropped)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, for at most ``timeout`` seconds."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while (body := self._queue.get()) is not None:
            try:
                self._deliver(body)
            except Exception as exc:  # the thread outlives any one event: a dead thread drops every later one
                log.warning("webhook %s: event not delivered (%s: %s)", self.url, type(exc).__name__, exc)

    def _deliver(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        for attempt in range(self._retries + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    response.read()
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                # A client error (bad token, wrong path) will not mend by asking again; 408 and 429 may.
                if (400 <= exc.code < 500 and exc.code not in (408, 429)) or attempt == self._retries:
                    log.warning("webhook %s: event refused with HTTP %d (%s)", self.url, exc.code, exc.reason)
                    return
                time.sleep(0.5 * 2**attempt)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if attempt == self._retries:
                    log.warning("webhook %s: giving up on an event after %d attempts (%s)", self.url, attempt + 1, exc)
                    return
                time.sleep(0.5 * 2**attempt)
