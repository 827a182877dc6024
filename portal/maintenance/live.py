"""Open pages follow the state: a cheap conditional poll of ``GET /live/state``.

``static/live.js`` asks every few seconds with ``If-None-Match`` set to the tag it last saw.
While nothing changed, :class:`NotModified` answers ``304`` before Flask runs (no session, no
template, at most five small queries a second per process); otherwise the view answers with the
banners as HTML, and a blocked user's poll gets the hook's ``503`` and goes to the login page.
"""

import threading
import time

from flask import Blueprint, Flask, g, jsonify, render_template
from flask_login import current_user

from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance.state import FLAGS, version

POLL_PATH = "/live/state"
# Rule 13 gives an open page 5 s to learn of a change: it asks every POLL_SECONDS and the answer
# may be CACHE_SECONDS old, 4.6 s at worst, leaving 0.4 s for the network. Every poll costs the
# server about one HTTP request of gunicorn's own work, so the page asks no more often than that.
POLL_SECONDS = 4.4
CACHE_SECONDS = 0.2

bp = Blueprint("live", __name__)


@bp.get(POLL_PATH)
def state():
    """Return the maintenance banners an open page should show, tagged with their version."""
    tag = g.get("maintenance_version", "")
    response = jsonify(
        version=tag,
        signed_in=current_user.is_authenticated,
        banners=render_template("_banners.html"),
    )
    response.set_etag(tag)
    response.headers["Cache-Control"] = "no-cache"
    return response


class NotModified:
    """WSGI middleware: answer an unchanged poll with ``304`` from a per-process cache."""

    def __init__(self, app: Flask):
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.lock = threading.Lock()
        self.flags = None
        self.read_at = float("-inf")
        self.engine = None

    def current(self) -> str:
        now = time.monotonic()
        if now - self.read_at >= CACHE_SECONDS:
            with self.lock:
                if now - self.read_at >= CACHE_SECONDS:
                    self.flags = self._read()
                    self.read_at = time.monotonic()
        return version(self.flags, utc_now())

    def _read(self):
        if self.engine is None:
            with self.app.app_context():
                self.engine = db.engine
        with self.engine.connect() as connection:
            return connection.execute(FLAGS).first()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == POLL_PATH and environ.get("REQUEST_METHOD") == "GET":
            seen = environ.get("HTTP_IF_NONE_MATCH", "").strip('W/"')
            if seen and seen == self.current():
                start_response(
                    "304 NOT MODIFIED",
                    [("ETag", f'"{seen}"'), ("Cache-Control", "no-cache")],
                )
                return [b""]
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.wsgi_app = NotModified(app)
