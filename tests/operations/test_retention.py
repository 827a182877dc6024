"""Retention: the client setting, and the processor purging expired events in batches."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events import lease
from portal.extensions import db
from portal.models import Client, ClientTotals, Delivery, Event
from portal.operations import retention, totals
from tests.conftest import post_form
from tests.events_support import (
    HOLDER,
    add_workflow,
    api_key,
    client_id,
    post_events,
    run_tick,
    set_restriction,
)


@pytest.fixture()
def app(app):
    app.config.update(RETENTION_CHECK_SECONDS=0, RETENTION_SECONDS_PER_TICK=5)
    retention._next_look["at"] = 0.0
    return app


def _ingest(app, http, count: int, client_name: str = "Default", prefix: str = "e") -> list[int]:
    events = [{"type": "t", "payload": {"n": n}, "source_id": f"{prefix}{n}"} for n in range(count)]
    response = post_events(http, api_key(app, client_name), {"events": events})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["event_ids"]


def _age(app, ids: list[int], days: float, **values) -> None:
    """Make these events look finished ``days`` ago, and the running totals as if they had
    been summed after that (they are derived figures: the next round sums them again)."""
    with app.app_context():
        when = utc_now() - timedelta(days=days)
        db.session.execute(
            sa.update(Event).where(Event.id.in_(ids)).values(processed_at=when, **values)
        )
        db.session.execute(sa.delete(ClientTotals))
        db.session.commit()


def _stored(app) -> tuple[set[int], int]:
    with app.app_context():
        events = set(db.session.scalars(sa.select(Event.id)))
        deliveries = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery))
        return events, deliveries


def _totals(app, name: str = "Default") -> ClientTotals | None:
    with app.app_context():
        row = db.session.get(ClientTotals, client_id(app, name))
        db.session.expunge_all()
        return row


def test_expired_processed_and_failed_events_go_with_their_deliveries(app, client):
    add_workflow(app)
    old = _ingest(app, client, 6)
    recent = _ingest(app, client, 2, prefix="r")
    assert run_tick(app).started == 8
    _age(app, old[:4], 31)
    _age(app, old[4:], 40, status="failed")
    _age(app, recent, 29)
    assert _stored(app) == (set(old + recent), 8)

    report = run_tick(app)

    assert report.purged == 6
    assert _stored(app) == (set(recent), 2)
    row = _totals(app)
    assert (row.purged_events, row.purged_deliveries) == (6, 6)
    with app.app_context():  # counted when they finished: purged or not
        figures = totals.client_figures([client_id(app)])[client_id(app)][0]
    assert figures.events == {"processed": 8, "failed": 0}
    assert figures.deliveries == {"succeeded": 8, "failed": 0}
    assert row.last_purged_at is not None


def test_queued_events_are_never_purged(app, client):
    ids = _ingest(app, client, 3)
    # received long ago and even carrying an old processed_at (e.g. replayed): still queued
    _age(app, ids, 365)
    with app.app_context():
        db.session.execute(sa.update(Event).values(received_at=utc_now() - timedelta(days=365)))
        db.session.commit()
    set_restriction(app, True)  # keep the processor from processing them in this tick
    run_tick(app)
    set_restriction(app, False)
    with app.app_context():
        assert lease.acquire(HOLDER)
        purged, finished = retention.purge_expired(HOLDER, float("inf"), 100)
    assert (purged, finished) == (0, True)
    assert _stored(app)[0] == set(ids)


def test_nothing_is_purged_while_the_restriction_is_on(app, client):
    ids = _ingest(app, client, 5)
    run_tick(app)
    _age(app, ids, 60)
    set_restriction(app, True)
    assert run_tick(app).purged == 0
    assert _stored(app)[0] == set(ids)
    set_restriction(app, False)
    assert run_tick(app).purged == 5
    assert _stored(app)[0] == set()


def test_each_client_keeps_its_own_retention(app, client):
    api_key(app, "Short")  # creates the client
    with app.app_context():
        short = db.session.scalar(sa.select(Client).where(Client.name == "Short"))
        retention.set_retention(short, 1)
        db.session.commit()
    default_ids = _ingest(app, client, 3)
    short_ids = _ingest(app, client, 3, client_name="Short", prefix="s")
    run_tick(app)
    _age(app, default_ids + short_ids, 5)
    assert run_tick(app).purged == 3
    assert _stored(app)[0] == set(default_ids)
    assert _totals(app, "Short").purged_events == 3
    assert _totals(app, "Default") is None  # nothing purged: no totals row yet


def test_purge_works_in_batches_of_the_configured_size(app, client):
    ids = _ingest(app, client, 10)
    run_tick(app)
    _age(app, ids, 31)
    cutoff = utc_now() - timedelta(days=30)
    with app.app_context():
        assert lease.acquire(HOLDER)
        cid = client_id(app)
        assert retention.purge_batch(HOLDER, cid, cutoff, 4) == 4
        assert retention.purge_batch(HOLDER, cid, cutoff, 4) == 4
        assert retention.purge_batch(HOLDER, cid, cutoff, 4) == 2
        assert retention.purge_batch(HOLDER, cid, cutoff, 4) == 0
        assert retention.purge_batch("someone-else", cid, cutoff, 4) is None  # no lease


def test_a_tick_stops_purging_at_its_time_budget(app, client):
    ids = _ingest(app, client, 10)
    run_tick(app)
    _age(app, ids, 31)
    app.config.update(RETENTION_BATCH_SIZE=2, RETENTION_SECONDS_PER_TICK=0)
    assert run_tick(app).purged == 0  # no time left: nothing starts
    app.config.update(RETENTION_SECONDS_PER_TICK=5)
    assert run_tick(app).purged == 10


def test_freed_pages_are_reused_over_cycles(app, client, db_path):
    """Ingest, process, purge three times: the file stops growing after the first cycle."""
    with app.app_context():
        assert db.session.execute(sa.text("PRAGMA auto_vacuum")).scalar() == 2  # incremental
    add_workflow(app)
    sizes = []
    for cycle in range(3):
        ids = []
        for part in range(4):
            ids += _ingest(app, client, 1000, prefix=f"c{cycle}p{part}-")
        while run_tick(app).started:
            pass
        with app.app_context():
            db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        sizes.append(db_path.stat().st_size)
        _age(app, ids, 31)
        assert run_tick(app).purged == len(ids)
    assert sizes[2] <= sizes[0] * 1.1, sizes
    with app.app_context():  # and what is far beyond the next cycle's needs went back
        free = db.session.execute(sa.text("PRAGMA freelist_count")).scalar()
        pages = db.session.execute(sa.text("PRAGMA page_count")).scalar()
    assert free <= pages // 4 + 1, (free, pages)


def _client_form(**change) -> dict:
    data = {
        "name": "Default",
        "password_retry_limit": "5",
        "lockout_minutes": "15",
        "retention_days": "30",
    }
    data.update(change)
    return data


def _retention_days(app, name: str = "Default") -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Client.retention_days).where(Client.name == name))


def test_client_page_shows_the_default_and_saves_a_new_retention(app, admin_client):
    url = f"/settings/clients/{client_id(app)}"
    page = admin_client.get(url).get_data(as_text=True)
    assert 'name="retention_days"' in page and 'value="30"' in page
    response = post_form(admin_client, url, _client_form(retention_days="7"))
    assert response.status_code == 302
    assert _retention_days(app) == 7
    assert "7 days" in admin_client.get("/settings/clients").get_data(as_text=True)
    from tests.admin_helpers import last_audit

    entry = last_audit(app, "clients")
    assert (entry.before["retention_days"], entry.after["retention_days"]) == (30, 7)


def test_a_new_client_keeps_30_days_unless_told(app, admin_client):
    form = _client_form(name="Acme")
    del form["retention_days"]
    assert post_form(admin_client, "/settings/clients/new", form).status_code == 302  # to its key
    assert _retention_days(app, "Acme") == 30
    form = _client_form(name="Brief", retention_days="2")
    assert post_form(admin_client, "/settings/clients/new", form).status_code == 302
    assert _retention_days(app, "Brief") == 2


@pytest.mark.parametrize("days", ["0", "-5", "3651", "99999999999999999999", "ten", "1.5"])
def test_a_bad_retention_is_a_form_error(app, admin_client, days):
    url = f"/settings/clients/{client_id(app)}"
    response = post_form(admin_client, url, _client_form(retention_days=days))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "between 1 and 3650 days" in page or "Not a valid integer" in page
    assert _retention_days(app) == 30


def test_set_retention_refuses_out_of_range_values(app):
    with app.app_context():
        client = db.session.scalar(sa.select(Client))
        for days in (0, -1, 3651):
            with pytest.raises(retention.AccountError):
                retention.set_retention(client, days)
        retention.set_retention(client, 1)
        assert client.retention_days == 1
        db.session.rollback()


def test_dashboard_shows_what_was_purged(app, client, admin_client):
    ids = _ingest(app, client, 4)
    run_tick(app)
    page = admin_client.get("/").get_data(as_text=True)
    assert "Retention has purged nothing yet." in page
    _age(app, ids, 31)
    run_tick(app)
    cid = client_id(app)
    page = admin_client.get("/").get_data(as_text=True)
    assert f'id="counter-{cid}-purged"' in page
    assert "Purged by retention" in page and "Retention last purged at" in page
    figures = admin_client.get("/dashboard/stats.json").get_json()["clients"][0]
    assert figures["purged"] == 4 and figures["last_purge"]
