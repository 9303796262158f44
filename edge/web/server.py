"""The page's HTTP server: bottle (one small file, no dependencies of its own) behind the standard
library's WSGI server with a thread per request, in daemon threads beside the loop. Pages are
rendered on the server from views/ and static/, which ship in the package (no CDN: it works offline)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from importlib import resources
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import bottle

from .. import gallery as gallery_io
from ..config import Config, parse_listen
from ..errors import SiamfaceError
from ..loop.embed import Embedder
from ..outputs.snapshots import Snapshots
from . import changes
from .board import Board
from .security import COOKIE, Guard
from .visitors import Visitors

log = logging.getLogger(__name__)

FILES = resources.files(__package__)
STATIC = {"site.css": "text/css", "site.js": "text/javascript"}
# Read once: the templates ship with the package and do not change while it runs.
VIEWS = {path.name.removesuffix(".tpl"): path.read_text(encoding="utf-8") for path in (FILES / "views").iterdir()}
CROP_ID = re.compile(r"[0-9A-Za-z_]{1,64}")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser holding a connection open never keeps the service from stopping


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # requests at debug level, not on stderr
        log.debug("web: " + format, *args)


class PageServer:
    def __init__(self, config: Config, embedder: Embedder, board: Board, visitors: Visitors, crops: Snapshots) -> None:
        self.config = config
        self.guard = Guard(config.web_token)
        self._embedder, self._board, self._visitors, self._crops = embedder, board, visitors, crops
        self.app = self._routes()
        host, port = parse_listen(config.web_listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (_Server,), {"address_family": family})
        try:
            self._server = make_server(host, port, self.app, server_class=server_class, handler_class=_Quiet)
        except OSError as exc:
            raise SiamfaceError(f"web.listen {config.web_listen}: cannot listen there ({exc.strerror})") from None
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)
        self._thread.start()
        shown = f"[{host}]" if ":" in host else host
        log.info("page on http://%s:%d/", shown, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # The routes, with the checks every request passes first.
    def _routes(self) -> bottle.Bottle:
        app = bottle.Bottle()
        app.add_hook("before_request", self._check)
        app.add_hook("after_request", _headers)

        app.route("/", callback=lambda: bottle.redirect("/live"))
        app.route("/live", callback=lambda: self._page("live", live_ms=int(1000 / self.config.live_fps)))
        app.route("/live.jpg", callback=self._live_jpeg)
        app.route("/api/live", callback=self._live_json)
        app.route("/events", callback=lambda: self._page("events", events=self._board.events()))
        app.route("/visitors", callback=self._visitors_page)
        app.route("/people", callback=self._people)
        app.route("/crop/<crop_id>", callback=self._crop)
        app.route("/photo/<crop_id>", callback=self._photo)
        app.route("/static/<name>", callback=self._static)
        app.route("/login", callback=lambda: self._page("login", message=""))
        app.post("/login", callback=self._login)
        app.post("/visitors/<visitor_id>/name", callback=self._name_visitor)
        app.post("/visitors/<visitor_id>/forget", callback=self._forget_visitor)
        app.post("/events/<event_id:int>/wrong", callback=self._wrong)
        app.post("/people/remove", callback=self._remove)
        return app

    def _check(self) -> None:
        request = bottle.request
        if not self.guard.host_ok(request.get_header("Host", "")):
            raise bottle.HTTPError(403, "this page answers to 127.0.0.1 or localhost only")
        if request.method == "POST" and not self.guard.csrf_ok(request.forms.get("csrf")):
            raise bottle.HTTPError(403, "refused: the form's CSRF token is missing or stale; reload the page")
        public = request.path in ("/login",) or request.path.startswith("/static/")
        if not public and not self.guard.signed_in(request.get_cookie(COOKIE), request.get_header("Authorization")):
            if request.method == "GET" and not request.path.startswith(("/api/", "/crop/", "/photo/", "/live.jpg")):
                raise bottle.HTTPResponse(status=303, headers={"Location": "/login"})
            raise bottle.HTTPError(401, "sign in first")

    def _page(self, view: str, **values) -> str:
        body = bottle.template(VIEWS[view], csrf=self.guard.csrf, **values)
        return bottle.template(VIEWS["layout"], body=body, view=view, camera=self.config.camera)

    def _done(self, where: str, action, gallery: bool = True) -> str:
        """A change's outcome as a page: what was done, or the one-line reason it was refused."""
        try:
            message = action()
        except (SiamfaceError, OSError) as exc:  # a full disk refuses the change; the page and the loop go on
            reason = str(exc) if isinstance(exc, SiamfaceError) else f"{exc.filename or 'a file'}: {exc.strerror}"
            log.warning("web: refused: %s", reason)
            bottle.response.status = 400
            return self._page("message", message=reason, back=where, ok=False)
        if gallery:
            self._board.gallery_changed.set()
        log.info("web: %s", message)
        return self._page("message", message=message, back=where, ok=True)

    def _live_jpeg(self) -> bytes:
        jpeg, index, _ = self._board.live()
        if jpeg is None:
            raise bottle.HTTPError(503, "no frame yet")
        bottle.response.content_type = "image/jpeg"
        bottle.response.set_header("Cache-Control", "no-store")
        bottle.response.set_header("X-Frame-Index", str(index))
        return jpeg

    def _live_json(self) -> str:
        _, index, tracks = self._board.live()
        bottle.response.content_type = "application/json"
        return json.dumps({"frame": index, "tracks": [t.__dict__ for t in tracks]})

    def _visitors_page(self) -> str:
        """Each visitor with the crops the store still holds (it prunes by count and age)."""
        kept = {p.stem for p in self._crops.folder.glob("*.jpg")}
        visitors = [(v, [c for _, c in v.crops if c in kept]) for v in self._visitors.listing()]
        return self._page("visitors", visitors=visitors)

    def _people(self) -> str:
        try:
            gallery = gallery_io.load(self.config.gallery_path)
        except SiamfaceError as exc:
            return self._page("message", message=str(exc), back="/live", ok=False)
        people = [
            (
                name,
                [r.path for r in gallery.people[name]],
                [p.stem for p in changes.page_photos(gallery.people[name], self.config)],
                len(gallery.learned.get(name, [])),
            )
            for name in gallery.names()
        ]
        return self._page("people", people=people)

    def _send_jpeg(self, path) -> bytes:
        if path is None:
            raise bottle.HTTPError(404, "no such picture")
        bottle.response.content_type = "image/jpeg"
        return path.read_bytes()

    def _crop(self, crop_id: str) -> bytes:
        return self._send_jpeg(self._crops.find(crop_id) if CROP_ID.fullmatch(crop_id) else None)

    def _photo(self, crop_id: str) -> bytes:
        """A photo the page enrolled, found among the gallery's records, never by joining a path."""
        gallery = gallery_io.load(self.config.gallery_path)
        ours = [p for records in gallery.people.values() for p in changes.page_photos(records, self.config)]
        found = next((p for p in ours if p.stem == crop_id), None)
        return self._send_jpeg(found if found and found.is_file() else None)

    def _static(self, name: str) -> bytes:
        if name not in STATIC:
            raise bottle.HTTPError(404, "no such file")
        bottle.response.content_type = STATIC[name]
        return (FILES / "static" / name).read_bytes()

    def _login(self) -> str:
        if not self.guard.token_ok(bottle.request.forms.get("token", "")):
            bottle.response.status = 401
            return self._page("login", message="wrong token")
        bottle.response.set_cookie(COOKIE, self.guard.session, httponly=True, samesite="strict", path="/")
        bottle.redirect("/live", 303)  # keeps the cookie just set

    def _name_visitor(self, visitor_id: str) -> str:
        name = bottle.request.forms.getunicode("name", "")
        return self._done(
            "/visitors",
            lambda: changes.name_visitor(
                self.config, self._embedder, self._visitors, self._crops, visitor_id, name, self._board.named()
            ),
        )

    def _forget_visitor(self, visitor_id: str) -> str:
        forget = lambda: changes.forget_visitor(self._visitors, self._crops, visitor_id)  # noqa: E731
        return self._done("/visitors", forget, gallery=False)

    def _wrong(self, event_id: int) -> str:
        event = self._board.event(event_id)
        if event is None:
            return self._page("message", message=f"event {event_id}: no longer listed", back="/events", ok=False)
        return self._done("/events", lambda: changes.correct(self.config, self._visitors, event))

    def _remove(self) -> str:
        name = bottle.request.forms.getunicode("name", "")
        return self._done("/people", lambda: changes.remove_person(self.config, name))


def _headers() -> None:
    """Nothing from elsewhere runs on the page or frames it."""
    bottle.response.set_header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
    bottle.response.set_header("X-Content-Type-Options", "nosniff")
    bottle.response.set_header("Referrer-Policy", "no-referrer")
