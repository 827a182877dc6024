"""The gate's connection on PostgreSQL: it drops, the gate reconnects, and while it cannot read
every call is held and the operator sees why (issue 17, point 3).

Uses the PostgreSQL fixture of ``test_postgres`` (skips without PORTAL_TEST_POSTGRES_URI).
"""

import threading
import time
from collections import Counter
from contextlib import contextmanager

import sqlalchemy as sa

from portal.events import lease, processor
from portal.events.webhooks.gate import APPLICATION_NAME
from portal.events.webhooks.pump import Pump
from portal.extensions import db
from portal.models import Delivery
from tests.conftest import login
from tests.events_support import SECRET, Recorder, add_workflow, api_key, post_events
from tests.events_support import webhook_server as serving
from tests.test_postgres import SERVER_URI, pg_app  # noqa: F401 (the fixture)

TOKEN = "metrics-token"


def _wait(condition, seconds: float, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting {what}"
        time.sleep(0.02)


@contextmanager
def _server_admin(app):
    """Yield (run SQL on the server as the test user, this app's database name)."""
    engine = sa.create_engine(SERVER_URI, isolation_level="AUTOCOMMIT")
    name = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    try:
        with engine.connect() as connection:
            yield (
                lambda sql, **values: connection.execute(sa.text(sql), {"db": name, **values}),
                name,
            )
    finally:
        engine.dispose()


def _kill_gate(run) -> int:
    return len(
        run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :db AND application_name = :gate",
            gate=APPLICATION_NAME,
        ).all()
    )


def _deliveries(app, count: int, recorder: Recorder, url: str, **workflow) -> None:
    add_workflow(app, action="webhook", url=url, secret=SECRET, **workflow)
    body = {"events": [{"type": "t"} for _ in range(count)]}
    post_events(app.test_client(), api_key(app), body)


def _statuses(app) -> Counter:
    with app.app_context():
        return Counter(
            dict(
                db.session.execute(
                    sa.select(Delivery.status, sa.func.count()).group_by(Delivery.status)
                ).all()
            )
        )


def _delivered_once_each(app, server: Recorder, count: int) -> None:
    ids = Counter(int(r["headers"]["webhook-id"]) for r in server.requests)
    assert len(ids) == count  # every delivery reached the receiver ...
    assert set(ids.values()) == {1}  # ... once: a held call was never sent
    assert _statuses(app) == Counter({"succeeded": count})


def test_a_dropped_gate_connection_reconnects_and_the_drain_completes(pg_app):  # noqa: F811
    app = pg_app
    count = 60
    recorder = Recorder()
    with serving(recorder) as (url, server), _server_admin(app) as (run, _name):
        _deliveries(app, count, recorder, url, rate_limit=20.0)  # about 3 s of calls
        with app.app_context():
            assert lease.acquire("t")
            processor.process_batch("t", 1000)
        pump = Pump(app, "t")
        drained = threading.Event()
        failure: list[BaseException] = []

        def drain() -> None:
            try:
                pump.drain()
            except BaseException as exc:
                failure.append(exc)
            drained.set()

        threading.Thread(target=drain, daemon=True).start()
        try:
            _wait(lambda: server.count >= 10, 30, "for the drain to start")
            assert _kill_gate(run) == 1  # the gate's backend, mid-drain
            killed = time.monotonic()
            assert server.count < count
            # The database answers at once: the drain finishes by itself, its remaining
            # calls (under 3 s at the lane's rate) well within 10 s more.
            assert drained.wait(10 + count / 20.0), "the drain did not complete"
            assert time.monotonic() - killed < 10 + count / 20.0
        finally:
            pump.stopping.set()
            drained.wait(30)
        assert not failure
        _delivered_once_each(app, server, count)


def test_while_the_gate_cannot_read_calls_are_held_and_health_metrics_and_dashboard_say_so(
    pg_app,  # noqa: F811
):
    app = pg_app
    app.config["METRICS_TOKEN"] = TOKEN
    count = 80
    recorder = Recorder()
    web = app.test_client()
    assert login(web).status_code == 302
    with serving(recorder) as (url, server), _server_admin(app) as (run, name):
        _deliveries(app, count, recorder, url, rate_limit=10.0)  # about 8 s of calls
        with app.app_context():
            assert lease.acquire("t")
            processor.process_batch("t", 1000)
        _warm_pool(app, 5)  # the app's own connections stay open through the outage
        pump = Pump(app, "t")
        beating = threading.Event()
        heartbeat = threading.Thread(target=_heartbeat, args=(app, beating), daemon=True)
        heartbeat.start()
        pump.start()
        try:
            _wait(lambda: server.count >= 5, 30, "for the calls to start")
            assert web.get("/healthz").get_json()["status"] == "ok"
            # The server now refuses new connections; the gate loses its own.
            run(f'ALTER DATABASE "{name}" CONNECTION LIMIT 0')
            assert _kill_gate(run) == 1
            killed = time.monotonic()
            sent = server.count

            def degraded() -> dict | None:
                health = web.get("/healthz")
                assert health.status_code == 200  # the app itself still reads its database
                body = health.get_json()
                return body if body["status"] == "degraded" else None

            _wait(degraded, 10, "for /healthz to report the outage")
            body = degraded()
            assert body["webhooks"] == "held" and body["since"].endswith("Z")
            assert body["event_processor"] == "running"
            metrics = web.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert "gateway_webhook_restriction_readable 0.0" in metrics.get_data(as_text=True)
            page = web.get("/").get_data(as_text=True)
            assert "Webhooks are held: the database is unreachable" in page
            stats = web.get("/dashboard/stats.json").get_json()
            assert stats["webhooks_held"].startswith("Webhooks are held")
            time.sleep(1.0)
            assert server.count <= sent + 1  # held: at most a call already on its way
            assert _statuses(app)["failed"] == 0
            held_for = time.monotonic() - killed
            run(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1')
            answering = time.monotonic()
            remaining = (count - server.count) / 10.0  # at the lane's rate
            _wait(
                lambda: _statuses(app)["succeeded"] == count,
                10 + remaining,
                "for the backlog to drain after the database answered again",
            )
            assert time.monotonic() - answering < 10 + remaining
            _wait(lambda: web.get("/healthz").get_json()["status"] == "ok", 10, "for ok")
            metrics = web.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert "gateway_webhook_restriction_readable 1.0" in metrics.get_data(as_text=True)
            assert "Webhooks are held" not in web.get("/").get_data(as_text=True)
        finally:
            run(f'ALTER DATABASE "{name}" CONNECTION LIMIT -1')
            pump.stop()
            beating.set()
            heartbeat.join(10)
        assert held_for > 1.0
        _delivered_once_each(app, server, count)


def _heartbeat(app, stop: threading.Event) -> None:
    """Renew the lease twice a second, as the processor's heartbeat job does (the renewal
    carries whether this process's pump can read the restriction)."""
    while not stop.wait(0.5):
        with app.app_context():
            try:
                lease.heartbeat("t")
            except sa.exc.OperationalError:
                db.session.rollback()


def _warm_pool(app, connections: int) -> None:
    """Open ``connections`` of the app's pool at once and give them back (kept open)."""
    with app.app_context():
        opened = [db.engine.connect() for _ in range(connections)]
        for connection in opened:
            connection.execute(sa.text("SELECT 1"))
            connection.close()
