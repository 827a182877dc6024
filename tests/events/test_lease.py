"""The processor lease: one holder at a time, expiry, release, and the reported status."""

import threading
from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events import lease
from portal.extensions import db
from portal.models.tables import lease as lease_table
from tests.events_support import add_workflow, api_key, post_events, run_tick, set_restriction


def _acquire(app, holder):
    with app.app_context():
        return lease.acquire(holder)


def _expire(app):
    with app.app_context():
        db.session.execute(
            sa.update(lease_table).values(expires_at=utc_now() - timedelta(seconds=1))
        )
        db.session.commit()


def test_only_one_holder_until_expiry(app):
    assert _acquire(app, "a")
    assert _acquire(app, "a")  # renewing
    assert not _acquire(app, "b")
    _expire(app)
    assert _acquire(app, "b")
    assert not _acquire(app, "a")
    with app.app_context():
        assert not lease.heartbeat("a")
        assert lease.heartbeat("b")


def test_release_lets_another_processor_start_at_once(app):
    assert _acquire(app, "a")
    with app.app_context():
        lease.release("a")
        assert lease.live_holder() is None
    assert _acquire(app, "b")


def test_concurrent_contenders_get_exactly_one_winner(app):
    barrier = threading.Barrier(8)
    winners = []

    def contend(name):
        barrier.wait()
        if _acquire(app, name):
            winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_two_processors_never_both_process(app, client):
    add_workflow(app)
    post_events(client, api_key(app), {"events": [{"type": "t"}] * 5})
    assert _acquire(app, "other")
    report = run_tick(app, "me")
    assert (report.holder, report.started) == (False, 0)
    assert run_tick(app, "other").started == 5


def test_status_reported_by_healthz(app, client):
    assert client.get("/healthz").get_json()["event_processor"] == "stopped"
    assert _acquire(app, "a")
    assert client.get("/healthz").get_json()["event_processor"] == "running"
    set_restriction(app, True)
    health = client.get("/healthz").get_json()
    assert (health["maintenance"], health["event_processor"]) == (True, "paused")
    set_restriction(app, False)
    _expire(app)
    assert client.get("/healthz").get_json()["event_processor"] == "stopped"
    with app.app_context():
        assert lease.processor_status() == "stopped"
