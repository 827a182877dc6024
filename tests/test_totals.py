"""Running totals: summed up to a moment, counted live after it, and what retention may delete."""

from datetime import timedelta

import sqlalchemy as sa

from portal.clock import utc_now
from portal.events import lease
from portal.extensions import db
from portal.models import ClientTotals, Delivery, Event
from portal.operations import retention, totals
from tests.events_support import HOLDER, add_workflow, api_key, client_id, post_events, run_tick


def _ingest_and_process(app, http, count: int, prefix: str) -> list[int]:
    events = [{"type": "t", "payload": {}, "source_id": f"{prefix}{n}"} for n in range(count)]
    ids = post_events(http, api_key(app), {"events": events}).get_json()["event_ids"]
    while run_tick(app).started:
        pass
    return ids


def _finish_at(app, ids: list[int], seconds_ago: float) -> None:
    with app.app_context():
        when = utc_now() - timedelta(seconds=seconds_ago)
        db.session.execute(sa.update(Event).where(Event.id.in_(ids)).values(processed_at=when))
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.event_id.in_(ids))
            .values(created_at=when - timedelta(seconds=2), finished_at=when)
        )
        db.session.commit()


def test_summed_and_live_parts_add_up_to_a_full_count(app, client):
    add_workflow(app)
    cid = client_id(app)
    with app.app_context():
        db.session.execute(sa.delete(ClientTotals))
        db.session.commit()
    spread = {600: 5, 120: 4, 45: 3, 20: 2, 1: 1}  # seconds ago -> events finished then
    for index, (ago, count) in enumerate(spread.items()):
        _finish_at(app, _ingest_and_process(app, client, count, f"s{index}-"), ago)
        with app.app_context():
            db.session.execute(sa.delete(ClientTotals))
            db.session.commit()
    with app.app_context():
        before = totals.client_figures([cid])[cid][0]  # nothing summed: all of it live
        through = totals.advance(cid)
        assert through is not None
        row = db.session.get(ClientTotals, cid)
        assert row.events_processed == 5 + 4 + 3  # the ones older than SETTLE (30 s)
        after = totals.client_figures([cid])[cid][0]
    assert before.events == after.events == {"processed": 15, "failed": 0}
    assert before.deliveries == after.deliveries
    assert after.deliveries["succeeded"] == 15
    assert before.latency == after.latency
    assert after.latency[totals.bucket_index(2.0)] == 15  # each took two seconds
    assert abs(after.latency_sum - 30.0) < 0.1


def test_only_summed_events_may_be_purged(app, client):
    cid = client_id(app)
    ids = _ingest_and_process(app, client, 4, "p")
    _finish_at(app, ids, 35 * 86400)
    with app.app_context():  # the totals stop before these events finished
        db.session.execute(
            sa.update(ClientTotals).values(counted_through=utc_now() - timedelta(days=40))
        )
        db.session.commit()
        assert lease.acquire(HOLDER)
        cutoff = utc_now() - timedelta(days=30)
        assert retention.purge_batch(HOLDER, cid, cutoff, 100) == 0
        db.session.execute(sa.delete(ClientTotals))
        db.session.commit()
        assert retention.purge_batch(HOLDER, cid, cutoff, 100) == 0  # no totals at all
        totals.advance(cid)
        assert retention.purge_batch(HOLDER, cid, cutoff, 100) == 4
        row = db.session.get(ClientTotals, cid)
        assert (row.events_processed, row.purged_events) == (4, 4)
