"""Fault tests: real processes killed, restarted and raced; a real webhook receiver."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class WebhookSink(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 recording every POST (Idempotency-Key, body); answers 200."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.lock = threading.Lock()
        self.requests: list[tuple[str | None, dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def received(self) -> list[tuple[str | None, dict]]:
        with self.lock:
            return list(self.requests)

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802  (the http.server naming)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {"unparsable": True}
        with self.server.lock:
            self.server.requests.append((self.headers.get("Idempotency-Key"), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


def event_id_of(body: dict) -> int | None:
    """Return the event id a webhook body carries (the event itself, or wrapped)."""
    for candidate in (body, body.get("event") if isinstance(body.get("event"), dict) else None):
        if candidate and isinstance(candidate.get("id"), int):
            return candidate["id"]
    value = body.get("event_id")
    return value if isinstance(value, int) else None


@pytest.fixture()
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()
