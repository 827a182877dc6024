"""Kill -9 the standalone processor again and again while it drains a backlog of webhook events.

SPEC §4 crash safety: no event lost, none marked processed without its webhook received, and a
re-sent webhook carries the same Idempotency-Key (the delivery id) as the first attempt.
"""

import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal import accounts, clients
from portal.extensions import db
from portal.models import Delivery, Event, Workflow
from tests.conftest import make_app
from tests.faults.conftest import event_id_of
from tests.live import Process, prepare_db

pytestmark = pytest.mark.slow

BACKLOG = 2000
KILLS = 4


def processed_ids(app) -> set[int]:
    with app.app_context():
        ids = set(db.session.scalars(sa.select(Event.id).where(Event.status == "processed")))
        db.session.remove()
        return ids


def status_counts(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(sa.select(Event.status, sa.func.count()).group_by(Event.status))
        counts = dict(rows.all())
        db.session.remove()
        return counts


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture()
def backlog(tmp_path: Path, webhook_sink):
    """A prepared database with a webhook workflow and BACKLOG queued events."""
    db_file = tmp_path / "portal.db"
    env = prepare_db(
        db_file,
        PROCESSOR_LEASE_TTL_SECONDS=1.0,
        PROCESSOR_BATCH_SIZE=100,
        WEBHOOK_BACKOFF_SECONDS=0.1,
        WEBHOOK_TIMEOUT_SECONDS=5.0,
    )
    app = make_app(db_file, tmp_path / "instance")
    with app.app_context():
        client = accounts.find_client(accounts.DEFAULT_CLIENT)
        key = clients.rotate_api_key(client)
        db.session.add(
            Workflow(
                client_id=client.id,
                name="crash hook",
                event_type="*",
                action="webhook",
                url=webhook_sink.url,
                secret="crash-secret",
            )
        )
        db.session.commit()
    web = app.test_client()
    for start in range(0, BACKLOG, 500):
        events = [
            {"type": "crash.test", "payload": {"n": n}, "source_id": f"crash-{n}"}
            for n in range(start, start + 500)
        ]
        response = web.post("/api/v1/events", json={"events": events}, headers={"X-API-Key": key})
        assert response.status_code == 202, response.get_data(as_text=True)
    yield app, env
    with app.app_context():
        db.engine.dispose()


def test_kill_9_while_draining_loses_nothing_and_keeps_idempotency_keys(
    backlog, webhook_sink, tmp_path
):
    app, env = backlog
    sink = webhook_sink
    args = [sys.executable, "-m", "flask", "processor", "run"]
    assert status_counts(app) == {"queued": BACKLOG}

    for kill in range(KILLS):
        processor = Process(args, env, tmp_path / f"processor-{kill}.log").start()
        target = webhook_sink.count() + BACKLOG // (KILLS + 2)
        try:
            wait_until(
                lambda p=processor, t=target: sink.count() >= t or p.proc.poll() is not None,
                timeout=60,
                what=f"{target} webhooks before kill {kill + 1}",
            )
        finally:
            processor.kill()
        assert processor.proc.returncode == -9, processor.output()
        received = {event_id_of(body) for _key, body in webhook_sink.received()}
        # nothing is marked processed unless its webhook already reached the receiver
        assert processed_ids(app) <= received, "processed without its webhook"

    processor = Process(args, env, tmp_path / "processor-final.log").start()
    try:
        wait_until(
            lambda: status_counts(app).get("processed", 0) == BACKLOG,
            timeout=90,
            what="the whole backlog processed after the kills",
        )
    finally:
        processor.stop()
        processor.kill()

    assert status_counts(app) == {"processed": BACKLOG}, "events lost or failed"
    keys_by_event: dict[int, set[str | None]] = defaultdict(set)
    for key, body in webhook_sink.received():
        keys_by_event[event_id_of(body)].add(key)
    assert set(keys_by_event) == processed_ids(app)
    with app.app_context():
        deliveries = {
            event_id: (delivery_id, status)
            for event_id, delivery_id, status in db.session.execute(
                sa.select(Delivery.event_id, Delivery.id, Delivery.status)
            )
        }
    assert len(deliveries) == BACKLOG
    for event_id, keys in keys_by_event.items():
        delivery_id, status = deliveries[event_id]
        assert keys == {str(delivery_id)}, f"event {event_id}: keys {keys}"
        assert status == "succeeded"
    resent = len(webhook_sink.received()) - BACKLOG
    print(f"{KILLS} kills, {BACKLOG} events, {resent} webhooks re-sent after a crash")
