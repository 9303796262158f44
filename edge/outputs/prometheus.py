"""An optional Prometheus endpoint on localhost (prometheus-client, the [metrics] extra)."""

from __future__ import annotations

from ..errors import SiamfaceError


class Metrics:
    def __init__(self, port: int, address: str = "127.0.0.1") -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
        except ImportError:
            raise SiamfaceError(
                "prometheus.port is set but prometheus-client is not installed: pip install 'siamface[metrics]'"
            ) from None
        self.registry = CollectorRegistry()
        self.frames = Counter("siamface_frames", "Frames processed", registry=self.registry)
        self.faces = Counter("siamface_faces", "Faces detected", registry=self.registry)
        self.events = Counter("siamface_events", "Events emitted", ["event", "outcome"], registry=self.registry)
        self.reconnects = Counter("siamface_camera_reconnects", "Camera reopened", registry=self.registry)
        self.stage_seconds = Histogram(
            "siamface_stage_seconds",
            "Time per frame and stage",
            ["stage"],
            registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
        )
        try:
            self.server, self._thread = start_http_server(port, addr=address, registry=self.registry)
        except OSError as exc:
            raise SiamfaceError(f"prometheus.port={port}: cannot listen on {address} ({exc.strerror})") from None
        self.port = self.server.server_port

    def close(self) -> None:
        self.server.shutdown()
