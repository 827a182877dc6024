"""The pump under concurrency: the restriction holds with 100 calls in flight."""

import threading
import time

import sqlalchemy as sa

from portal.events import lease, processor
from portal.events.webhooks.pump import Pump
from portal.extensions import db
from portal.models import Delivery
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    set_restriction,
    webhook_server,
)


def _wait(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_restriction_commit_stops_new_calls_with_100_in_flight(app, client):
    recorder = Recorder()
    recorder.delay = 1.0
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"events": [{"type": "t"} for _ in range(800)]})
        with app.app_context():
            lease.acquire("t")
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
            _wait(lambda: recorder.in_flight >= 100)
            set_restriction(app, True)
            committed = time.monotonic()
            in_flight_at_commit = recorder.in_flight
            time.sleep(1.5)  # the calls in flight finish
        finally:
            pump.stop()
        assert in_flight_at_commit >= 100
        assert passed and max(passed) < committed  # no check passed after the commit
        late = [r["at"] - committed for r in server.requests if r["at"] > committed]
        assert max(late, default=0.0) < 0.1  # what was let through was already on its way
        sent = server.count
        time.sleep(0.5)
        assert server.count == sent
    with app.app_context():
        statuses = db.session.execute(
            sa.select(Delivery.status, sa.func.count()).group_by(Delivery.status)
        ).all()
    counts = dict(statuses)
    assert counts["succeeded"] == sent  # every call that went out was recorded
    assert counts["pending"] == 800 - sent  # the rest is held, nothing failed


def test_event_batches_do_not_wait_for_a_hanging_webhook(app, client):
    """The pump runs beside the processor tick: a receiver that hangs holds up no batch."""
    from portal import clients
    from portal.events import runner
    from tests.events.test_webhooks import raw_receiver

    app.config.update(
        PROCESSOR_INTERVAL_SECONDS=0.1, WEBHOOK_TIMEOUT_SECONDS=30.0, PROCESSOR_ENABLED=True
    )
    with app.app_context():
        _, acme_key = clients.create_client("Acme")
        db.session.commit()
    with raw_receiver(lambda connection: time.sleep(5)) as url:
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        add_workflow(app, "Acme", name="log")
        post_events(client, api_key(app), {"type": "slow"})
        assert runner.start(app)
        try:
            _wait(lambda: _hanging_calls(app) == 1, 10)
            ids = post_events(client, acme_key, {"events": [{"type": "t"}] * 3}).get_json()[
                "event_ids"
            ]
            _wait(lambda: _statuses(app, ids) == {"processed"}, 10)
        finally:
            runner.stop(app)


def _hanging_calls(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Delivery)
            .where(Delivery.claimed_until.is_not(None))
        )


def _statuses(app, ids: list[int]) -> set[str]:
    from portal.models import Event

    with app.app_context():
        return set(db.session.scalars(sa.select(Event.status).where(Event.id.in_(ids))))
