"""Figures equal the rows: triggers count what they queue, concurrent retry/replay posts move the
counters once, and an event's status follows its latest run (SQLite file and PostgreSQL)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events import counters, lease, operations, triggers
from portal.extensions import db
from portal.models import Client, Delivery, Event, ScheduledTrigger, User
from tests.conftest import login
from tests.events_support import (
    HOLDER,
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    client_id,
    post_events,
    run_tick,
    webhook_server,
)
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)


def counted_and_rows(app) -> tuple[dict, dict]:
    """Return (the counters' queued/failed per client, COUNT(*) of the rows per client)."""
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Client.id)))
        rows = {cid: dict.fromkeys(counters.COUNTED, 0) for cid in ids}
        for cid, status, number in db.session.execute(
            sa.select(Event.client_id, Event.status, sa.func.count()).group_by(
                Event.client_id, Event.status
            )
        ):
            if status in counters.COUNTED:
                rows[cid][status] = number
        return counters.figures(ids), rows


def _admin():
    return db.session.scalar(sa.select(User).order_by(User.id).limit(1))


def test_a_trigger_firing_counts_the_event_it_queues(app):
    with app.app_context():
        db.session.add(
            ScheduledTrigger(
                client_id=client_id(app),
                name="beat",
                interval_seconds=60,
                event_type="beat",
                payload={"n": 1},
                next_fire_at=utc_now() - timedelta(seconds=1),
            )
        )
        db.session.commit()
        assert lease.acquire(HOLDER)
        assert triggers.fire_due(HOLDER) == 1
        event = db.session.scalar(sa.select(Event))
        assert (event.type, event.payload, event.status) == ("beat", {"n": 1}, "queued")
    kept, rows = counted_and_rows(app)
    assert kept == rows
    assert rows[client_id(app)]["queued"] == 1


def _failed_webhook_event(app, url: str) -> tuple[int, int]:
    """One event whose only delivery failed (one attempt allowed); return (event, delivery)."""
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1)
    add_workflow(app, name="hook", action="webhook", url=url, secret=SECRET)
    (event_id,) = post_events(app.test_client(), api_key(app), {"type": "t"}).get_json()[
        "event_ids"
    ]
    run_tick(app)
    with app.app_context():
        delivery = db.session.scalar(sa.select(Delivery).where(Delivery.event_id == event_id))
        assert (delivery.status, db.session.get(Event, event_id).status) == ("failed", "failed")
        return event_id, delivery.id


def _both_read_then_both_post(app, action, model, row_id: int, refusal: str) -> None:
    """Two sessions read the row; the second posts and commits, then the first posts."""
    with app.app_context():
        first = db.session.get(model, row_id)
        assert first.status == "failed"
        with app.app_context():  # another request, with its own session
            second = db.session.get(model, row_id)
            assert second.status == "failed"
            action(_admin(), second)
            db.session.commit()
        with pytest.raises(operations.NotAllowed, match=refusal):
            action(_admin(), first)
        db.session.rollback()


def _concurrent_posts(app) -> None:
    recorder = Recorder()
    recorder.statuses = [500, 500]  # the first call fails, then the retry's call fails too
    with webhook_server(recorder) as (url, _server):
        event_id, delivery_id = _failed_webhook_event(app, url)
        _both_read_then_both_post(
            app, operations.retry_delivery, Delivery, delivery_id, "already being retried"
        )
        kept, rows = counted_and_rows(app)
        assert kept == rows
        assert rows[client_id(app)] == {"queued": 1, "failed": 0}
        run_tick(app)  # the retry fails again: the event is failed once more
        _both_read_then_both_post(app, operations.replay_event, Event, event_id, "already queued")
        kept, rows = counted_and_rows(app)
        assert kept == rows
        assert rows[client_id(app)] == {"queued": 1, "failed": 0}


def test_two_concurrent_posts_move_the_counters_once_on_sqlite(app):
    _concurrent_posts(app)


def test_two_concurrent_posts_move_the_counters_once_on_postgres(pg_app):  # noqa: F811
    _concurrent_posts(pg_app)


def _replay_succeeds(app, http) -> None:
    recorder = Recorder()
    recorder.statuses = [500]  # the first run's call fails; the replay's succeeds
    with webhook_server(recorder) as (url, _server):
        event_id, old_delivery = _failed_webhook_event(app, url)
        assert counted_and_rows(app)[0][client_id(app)]["failed"] == 1
        with app.app_context():
            operations.replay_event(_admin(), db.session.get(Event, event_id))
            db.session.commit()
        run_tick(app)
    with app.app_context():
        event = db.session.get(Event, event_id)
        assert (event.status, event.last_error) == ("processed", None)
        with pytest.raises(operations.NotAllowed, match="earlier run"):
            operations.retry_delivery(_admin(), db.session.get(Delivery, old_delivery))
        db.session.rollback()
    kept, rows = counted_and_rows(app)
    assert kept == rows
    assert rows[client_id(app)] == {"queued": 0, "failed": 0}
    login(http)
    page = http.get(f"/events/{event_id}").get_data(as_text=True)
    assert 'class="status-processed">processed' in page
    assert "Earlier run, before a replay" in page and "Latest run" in page
    assert "Retry now" not in page  # the old run's failed delivery is not offered


def test_an_event_follows_its_latest_run_after_a_replay_on_sqlite(app, client):
    _replay_succeeds(app, client)


def test_an_event_follows_its_latest_run_after_a_replay_on_postgres(pg_app):  # noqa: F811
    _replay_succeeds(pg_app, pg_app.test_client())


def test_the_error_names_its_run_on_the_page(app, client):
    recorder = Recorder()
    recorder.statuses = [500]
    with webhook_server(recorder) as (url, _server):
        event_id, _delivery = _failed_webhook_event(app, url)
    login(client)
    page = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "HTTP 500" in page or "500" in page
    assert "(latest run, started " in page
