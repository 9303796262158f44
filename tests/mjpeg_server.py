"""A real MJPEG stream over HTTP on 127.0.0.1, as IP cameras serve it, that a test can take down,
hang or bring back: ``state`` is "up", "down" (connections refused with 503, a running stream
ends) or "hang" (a running stream and new connections get no more bytes, the sockets stay open)."""

from __future__ import annotations

import http.server
import socketserver
import threading
import time
from pathlib import Path


class MjpegServer:
    def __init__(self, jpeg: Path, fps: float = 20.0) -> None:
        self.frame = jpeg.read_bytes()
        self.state = "up"
        self.connections = 0
        self.frames_sent = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.connections += 1
                if server.state == "down":
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                while server.state != "down" and not server.closed:
                    if server.state == "hang":
                        time.sleep(0.05)
                        continue
                    head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(server.frame)
                    try:
                        self.wfile.write(head + server.frame + b"\r\n")
                    except OSError:
                        return
                    server.frames_sent += 1
                    time.sleep(1 / fps)

            def log_message(self, *args: object) -> None:
                pass

        self.closed = False
        self._httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/stream.mjpg"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
