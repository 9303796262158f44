"""systemd's service notification protocol (sd_notify): one datagram to $NOTIFY_SOCKET per message.

Written out here because it is a dozen lines: READY=1, WATCHDOG=1, STATUS=..., STOPPING=1.
Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        self._address = address or None
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if self._address else None
        if self._socket:
            # A datagram socket blocks the sender when the reader's queue is full: a notifier
            # nobody reads must never stall the frame loop, so a message that cannot go is dropped.
            self._socket.setblocking(False)
        usec = int(env.get("WATCHDOG_USEC", "0") or 0)
        # Ping at half the watchdog interval, as systemd recommends.
        self.watchdog_every = usec / 2e6 if usec else None
        self._last_watchdog = 0.0

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *fields: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto("\n".join(fields).encode(), self._address)
        except OSError:
            pass  # systemd gone, not listening or not keeping up: notifications are best effort

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def watchdog(self) -> None:
        """Call after each processed frame; sends only as often as the watchdog needs."""
        now = time.monotonic()
        if self.watchdog_every is None or now - self._last_watchdog >= self.watchdog_every:
            self._last_watchdog = now
            self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1")
