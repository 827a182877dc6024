"""One definition of "restricted now": a scheduled start holds the webhook calls from its time
on, though no request and no processor round has applied it yet (issue 17, point 2)."""

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events import lease, processor
from portal.events.webhooks.pump import Pump
from portal.extensions import db
from portal.maintenance import get_or_create_state, load_state
from portal.models import Delivery
from portal.models.maintenance import restricted_at
from tests.events_support import SECRET, Recorder, add_workflow, api_key, post_events
from tests.events_support import webhook_server as serving
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)

RATE = 10.0  # calls per second on the lane: the start falls between two calls
EVENTS = 60


def _wait(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("enabled", "restrict", "start", "held"),
    [
        (False, False, None, False),
        (True, False, None, False),  # maintenance without the restriction
        (True, True, None, True),
        (False, True, None, False),  # saved for the next start
        (False, True, 1, False),  # a start still to come
        (False, True, 0, True),  # its time has come
        (False, True, -60, True),  # due, not applied yet
        (False, False, -60, False),  # a start without the restriction
    ],
)
def test_restricted_at_counts_a_due_start(enabled, restrict, start, held):
    now = utc_now()
    when = None if start is None else now + timedelta(seconds=start)
    assert restricted_at(enabled, restrict, when, now) is held


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request):
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


def test_a_due_scheduled_start_holds_the_calls_without_any_round_applying_it(any_app):
    app = any_app
    recorder = Recorder()
    with serving(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET, rate_limit=RATE)
        body = {"events": [{"type": "t"} for _ in range(EVENTS)]}
        post_events(app.test_client(), api_key(app), body)
        with app.app_context():
            assert lease.acquire("t")
            processor.process_batch("t", 1000)
        pump = Pump(app, "t")
        passed: list[float] = []  # when each check that let a call out began its read
        lock = threading.Lock()
        original = pump._gate

        async def recording_gate(peer):
            began = time.monotonic()  # the read it waits for starts after this
            await original(peer)
            with lock:
                passed.append(began)

        pump._gate = recording_gate
        pump.start()
        try:
            _wait(lambda: server.count >= 3)  # the lane is sending, one call every 0.1 s
            with app.app_context():  # only the pump runs: no request, no processor round
                state = get_or_create_state()
                state.restrict_event_processor = True
                now, clock = utc_now(), time.monotonic()
                state.scheduled_start = now + timedelta(seconds=1)
                db.session.commit()
            start = clock + 1.0  # the start time on the monotonic clock
            time.sleep(max(0.0, start + 1.5 - time.monotonic()))
        finally:
            pump.stop()
        sent = server.count
        assert 3 <= sent < EVENTS  # the start came in the middle of the drain
        assert passed and max(passed) < start  # no check that began after the start let a call out
        # What was let through before the start arrives within moments; nothing later.
        late = [r["at"] - start for r in server.requests if r["at"] > start]
        assert max(late, default=0.0) < 0.25, late
        with app.app_context():
            statuses = dict(
                db.session.execute(
                    sa.select(Delivery.status, sa.func.count()).group_by(Delivery.status)
                ).all()
            )
            state = load_state()
            assert not state.enabled and state.scheduled_start is not None  # never applied
            assert state.processing_paused
    assert statuses.get("succeeded") == sent  # every call that went out was recorded
    assert statuses.get("pending") == EVENTS - sent  # the rest is held, nothing failed
    assert "failed" not in statuses


def test_an_unreadable_restriction_reaches_healthz_metrics_and_the_dashboard_via_the_lease(
    app, client
):
    """What the processor's renewal writes is what every process shows (point 3; the real
    outage is in test_webhook_gate_postgres)."""
    from portal.events.webhooks import health
    from tests.conftest import login

    app.config["METRICS_TOKEN"] = "t0ken"
    scrape = {"Authorization": "Bearer t0ken"}
    assert login(client).status_code == 302
    gate = object()  # stands for a gate of this process that cannot read
    with app.app_context():
        assert lease.acquire("t")
    assert client.get("/healthz").get_json() == {
        "status": "ok",
        "maintenance": False,
        "event_processor": "running",
    }
    try:
        health.failed(gate, utc_now(), "OperationalError: the connection is lost")
        with app.app_context():
            assert lease.heartbeat("t")  # the renewal carries it into the lease row
        body = client.get("/healthz").get_json()
        assert (body["status"], body["webhooks"]) == ("degraded", "held")
        assert body["detail"] == "OperationalError: the connection is lost"
        text = client.get("/metrics", headers=scrape).get_data(as_text=True)
        assert "gateway_webhook_restriction_readable 0.0" in text
        assert "Webhooks are held: the database is unreachable" in client.get("/").get_data(
            as_text=True
        )
    finally:
        health.recovered(gate)
    with app.app_context():
        assert lease.heartbeat("t")
    assert client.get("/healthz").get_json()["status"] == "ok"
    text = client.get("/metrics", headers=scrape).get_data(as_text=True)
    assert "gateway_webhook_restriction_readable 1.0" in text
    assert "Webhooks are held" not in client.get("/").get_data(as_text=True)
    assert client.get("/dashboard/stats.json").get_json()["webhooks_held"] == ""
