"""Helpers for the event pipeline tests: API keys, workflows, the restriction, a webhook server."""

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa
from flask import Flask

from portal import accounts, clients
from portal.events import processor
from portal.events.webhooks.pump import Pump
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.models import Event, Workflow

HOLDER = "test-processor"

# A Standard Webhooks secret for test workflows (whsec_ + base64 of the key bytes).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def api_key(app: Flask, client_name: str = accounts.DEFAULT_CLIENT) -> str:
    """Return a fresh API key of the client (created if missing)."""
    with app.app_context():
        client = accounts.find_client(client_name)
        if client is None:
            client, key = clients.create_client(client_name)
        else:
            key = clients.rotate_api_key(client)
        db.session.commit()
        return key


def client_id(app: Flask, client_name: str = accounts.DEFAULT_CLIENT) -> int:
    with app.app_context():
        return accounts.find_client(client_name).id


def add_workflow(app: Flask, client_name: str = accounts.DEFAULT_CLIENT, **fields) -> int:
    """Create an enabled workflow (record action unless told otherwise); return its id."""
    with app.app_context():
        values = {"name": "wf", "event_type": "*", "action": "record", **fields}
        flow = Workflow(client_id=accounts.find_client(client_name).id, **values)
        db.session.add(flow)
        db.session.commit()
        return flow.id


def set_restriction(app: Flask, on: bool, *, enabled: bool | None = None) -> None:
    """Turn maintenance with the processor restriction on or off (committed)."""
    with app.app_context():
        state = get_or_create_state()
        state.enabled = on if enabled is None else enabled
        state.restrict_event_processor = on
        db.session.commit()


def run_tick(app: Flask, holder: str = HOLDER) -> processor.TickReport:
    """Run one processor round the way the scheduler job does, then make the due webhook
    calls the way the pump does (until none is due)."""
    with app.app_context():
        report = processor.tick(holder)
    if report.holder:
        drain(app, holder)
    return report


def drain(app: Flask, holder: str = HOLDER) -> None:
    """Run the webhook pump until no call is due or in flight."""
    Pump(app, holder).drain()


def post_events(http, key: str, body, **kw):
    return http.post("/api/v1/events", json=body, headers={"X-API-Key": key}, **kw)


def events_by_id(app: Flask) -> dict[int, Event]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Event).order_by(Event.id)).all()
        db.session.expunge_all()
        return {row.id: row for row in rows}


class Recorder:
    """What the local webhook server received, and what it should answer."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # answers to give in order; then 200
        self.delay = 0.0  # seconds to wait before answering
        self.headers: dict[str, str] = {}  # extra response headers
        self.body = b"{}"  # the answer's body
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@contextmanager
def webhook_server(recorder: Recorder | None = None):
    """Serve on 127.0.0.1; yield (url, recorder). Every request is recorded."""
    recorder = recorder or Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            arrived = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with recorder.lock:
                recorder.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body, "at": arrived}
                )
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                recorder.in_flight += 1
                recorder.most_in_flight = max(recorder.most_in_flight, recorder.in_flight)
            if recorder.delay:
                time.sleep(recorder.delay)
            with recorder.lock:
                recorder.in_flight -= 1
            self.send_response(status)
            for name, value in recorder.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(recorder.body)))
            self.end_headers()
            self.wfile.write(recorder.body)

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512

    Handler.protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", recorder
    finally:
        server.shutdown()
        server.server_close()


def body_json(request: dict) -> dict:
    return json.loads(request["body"])
