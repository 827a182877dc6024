"""No SSRF through webhooks: targets are public unless WEBHOOK_ALLOWED_NETWORKS allows more,
checked when a workflow is saved and against the address each call actually connects to."""

import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from portal.events.targets import address_allowed, url_problem
from portal.extensions import db
from portal.models import Delivery, Workflow
from portal.security.config import parse_networks
from tests.conftest import login, make_app, post_form
from tests.events_support import add_workflow, api_key, post_events, run_tick
from tests.web.test_workflows_page import NEW, webhook_form


class Receiver(ThreadingHTTPServer):
    """A local HTTP server that records POSTs and answers 200 (or redirects to ``redirect``)."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", redirect: str | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.received: list[str] = []
        self.redirect = redirect
        super().__init__((host, 0), _Handler)

    def url(self, host: str | None = None) -> str:
        host = host or self.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(self.path)
        if self.server.redirect:
            self.send_response(307)
            self.send_header("Location", self.server.redirect)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@contextmanager
def receiving(host: str = "127.0.0.1", redirect: str | None = None):
    server = Receiver(host, redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def strict_app(db_path, tmp_path):
    """The portal with the default: public targets only."""
    app = make_app(db_path, tmp_path / "strict", WEBHOOK_ALLOWED_NETWORKS=[])
    yield app
    with app.app_context():
        db.engine.dispose()


def deliver_once(app, url: str):
    """Store a webhook workflow for ``url`` (as if saved earlier), ingest an event, run it."""
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_BACKOFF_SECONDS=0.0)
    add_workflow(app, action="webhook", url=url, secret="k")
    post_events(app.test_client(), api_key(app), {"type": "door", "payload": {}})
    run_tick(app)
    with app.app_context():
        return db.session.scalars(sa.select(Delivery)).one()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0:8080/hook",
        "http://localhost:8080/hook",  # a host name that resolves to loopback
    ],
)
def test_saving_a_private_target_is_a_form_error_naming_the_setting(strict_app, url):
    client = strict_app.test_client()
    assert login(client).status_code == 302
    response = post_form(client, NEW, webhook_form(url=url))
    assert response.status_code == 200
    assert "WEBHOOK_ALLOWED_NETWORKS" in response.get_data(as_text=True)
    with strict_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Workflow)) == 0


def test_allowed_network_and_public_targets_save(app, admin_client):
    assert post_form(admin_client, NEW, webhook_form(url="http://127.0.0.1:9/hook")).status_code
    assert url_problem("https://93.184.216.34/hook", ()) is None
    assert url_problem("https://unresolvable.invalid/hook", ()) is None  # checked at call time


def test_call_to_a_literal_private_address_fails_with_the_reason(strict_app):
    with receiving() as receiver:
        delivery = deliver_once(strict_app, receiver.url())
    assert receiver.received == []
    assert delivery.status == "failed"
    assert "127.0.0.1" in delivery.last_error and "WEBHOOK_ALLOWED_NETWORKS" in delivery.last_error


def test_host_name_resolving_to_loopback_is_refused_at_call_time(strict_app):
    """Saved while it resolved elsewhere, the name now resolves to 127.0.0.1 (DNS rebinding)."""
    with receiving() as receiver:
        delivery = deliver_once(strict_app, receiver.url("localhost"))
    assert receiver.received == []
    assert delivery.status == "failed" and "WEBHOOK_ALLOWED_NETWORKS" in delivery.last_error


def test_ipv6_loopback_is_refused_when_only_ipv4_loopback_is_allowed(app):
    with receiving("::1") as receiver:
        delivery = deliver_once(app, receiver.url())  # the suite allows 127.0.0.0/8 only
    assert receiver.received == []
    assert delivery.status == "failed" and "::1" in delivery.last_error


def test_redirect_to_a_private_address_is_not_followed(db_path, tmp_path):
    app = make_app(db_path, tmp_path / "one", WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"])
    with receiving("127.0.0.2") as inner, receiving("127.0.0.1", redirect=inner.url()) as outer:
        delivery = deliver_once(app, outer.url())
    assert outer.received == ["/hook"]
    assert inner.received == []
    assert delivery.status == "failed" and delivery.response_code == 307
    with app.app_context():
        db.engine.dispose()


def test_allowed_receiver_is_called(app):
    with receiving() as receiver:
        delivery = deliver_once(app, receiver.url())
    assert receiver.received == ["/hook"]
    assert delivery.status == "succeeded"


@pytest.mark.parametrize(
    ("address", "allowed", "expected"),
    [
        ("93.184.216.34", (), True),
        ("2606:2800:220:1:248:1893:25c8:1946", (), True),
        ("127.0.0.1", (), False),
        ("169.254.169.254", (), False),
        ("100.64.0.1", (), False),  # carrier-grade NAT
        ("fd00::1", (), False),
        ("fe80::1%eth0", (), False),
        ("::ffff:10.0.0.1", (), False),
        ("224.0.0.1", (), False),
        ("10.0.0.7", ("10.0.0.0/8",), True),
        ("::ffff:127.0.0.1", ("127.0.0.0/8",), True),
        ("::1", ("127.0.0.0/8",), False),
    ],
)
def test_address_rule(address, allowed, expected):
    assert address_allowed(address, parse_networks(list(allowed))) is expected
