"""Who may use the page. On 127.0.0.1 with no token, whoever is on this machine; with a token
(required on any other address, config.py), a browser signs in once and holds a session cookie, a
script sends ``Authorization: Bearer``. Every change is a POST carrying the page's CSRF token; with
no token, requests must also name a loopback host, so that another site cannot reach the page
through a DNS name that points at 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import secrets

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
COOKIE = "siamface_session"


class Guard:
    def __init__(self, token: str | None) -> None:
        self.token = token
        # New each start: a restart signs everyone out and old pages' forms are refused.
        self._key = secrets.token_bytes(32)
        self.csrf = hmac.new(self._key, b"csrf", hashlib.sha256).hexdigest()
        self.session = hmac.new(self._key, (token or "").encode(), hashlib.sha256).hexdigest()

    def host_ok(self, host_header: str) -> bool:
        if self.token is not None:
            return True
        host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        return host in LOOPBACK_NAMES

    def signed_in(self, cookie: str | None, authorization: str | None) -> bool:
        if self.token is None:
            return True
        if cookie and hmac.compare_digest(cookie, self.session):
            return True
        bearer = (authorization or "").removeprefix("Bearer ")
        return bool(authorization) and hmac.compare_digest(bearer.encode(), self.token.encode())

    def token_ok(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.csrf.encode())
