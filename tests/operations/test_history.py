"""History samples (portal.operations.history): what a sample records, the chart points read
back from it, and the purge that keeps the table bounded."""

from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import HistorySample, MaintenanceWindow, RestrictionPeriod
from portal.operations import history
from tests.events_support import (
    add_workflow,
    api_key,
    client_id,
    post_events,
    run_tick,
    set_restriction,
)
from tests.test_postgres import pg_app  # noqa: F401  (the PostgreSQL fixture)

STEP = 10


def rows(app, client=None) -> list[HistorySample]:
    with app.app_context():
        scope = (
            HistorySample.client_id.is_(None)
            if client is None
            else HistorySample.client_id == client
        )
        found = db.session.scalars(sa.select(HistorySample).where(scope).order_by("taken_at"))
        result = found.all()
        db.session.expunge_all()
        return result


def sample(app, in_flight=None, at=None) -> None:
    with app.app_context():
        history.record(in_flight or {}, STEP, at)


def test_a_sample_records_each_clients_figures_and_their_total(app):
    default_key, other_key = api_key(app), api_key(app, "Other")
    add_workflow(app, name="keep")
    add_workflow(app, "Other", name="broken", action="unknown-action")
    set_restriction(app, True)
    http = app.test_client()
    post_events(http, default_key, {"events": [{"type": "a", "payload": {}}] * 3})
    post_events(http, other_key, {"events": [{"type": "b", "payload": {}}] * 2})
    default, other = client_id(app), client_id(app, "Other")
    sample(app, {default: 4})
    set_restriction(app, False)
    run_tick(app)
    sample(app)
    (held, after) = rows(app, default)
    assert (held.queued, held.in_flight, held.restricted) == (3, 4, True)
    assert (after.queued, after.delivered, after.failed, after.restricted) == (0, 3, 0, False)
    other_rows = rows(app, other)
    assert [(r.queued, r.delivered, r.failed) for r in other_rows] == [(2, 0, 0), (0, 2, 2)]
    totals = rows(app)
    assert [(r.queued, r.in_flight, r.delivered, r.failed) for r in totals] == [
        (5, 4, 0, 0),
        (0, 0, 5, 2),
    ]


def test_points_give_rates_and_failures_between_samples_and_merge_beyond_the_limit(app):
    check_points(app)


def test_points_merge_the_same_on_postgres(pg_app):  # noqa: F811
    check_points(pg_app)
    with pg_app.app_context():  # and a sample records there too
        history.record({}, STEP)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(HistorySample)) == 12


def check_points(app) -> None:
    start = utc_now().replace(microsecond=0) - timedelta(minutes=5)
    with app.app_context():
        values = [
            {"taken_at": start + timedelta(seconds=STEP * n), "client_id": None, "step": STEP}
            | {"queued": 10 - n, "in_flight": n % 3, "delivered": 5 * n, "failed": n}
            | {"restricted": n < 2}
            for n in range(10)
        ]
        db.session.execute(sa.insert(history.samples), values)
        db.session.commit()
        points = history.points(start, start + timedelta(minutes=2), None)
        assert [p.queued for p in points] == [10 - n for n in range(10)]
        assert [p.per_second for p in points] == [0.0] + [0.5] * 9
        assert [p.failures for p in points] == [0] + [1] * 9
        assert [p.restricted for p in points[:3]] == [True, True, False]
        merged = history.points(start, start + timedelta(seconds=100), None, most=5)  # 20 s each
        assert len(merged) == 5
        assert [p.queued for p in merged] == [10, 8, 6, 4, 2]  # the largest of each pair
        assert [p.failures for p in merged] == [1, 2, 2, 2, 2]  # the first pair: from its first
        assert merged[1].per_second == 0.5


def test_purge_drops_old_samples_but_keeps_a_windows_coarser(app):
    now = utc_now().replace(microsecond=0)
    old = now - timedelta(hours=100)
    with app.app_context():
        window = MaintenanceWindow(
            started_at=old, started_by="cli", started_via="cli", ended_at=old + timedelta(hours=1)
        )
        window.periods.append(
            RestrictionPeriod(
                started_at=old,
                ended_at=old + timedelta(hours=1),
                drained_at=old + timedelta(hours=1, minutes=10),
            )
        )
        db.session.add(window)
        db.session.commit()
        start = old - timedelta(hours=2)
        values = [  # every 10 s from two hours before the window to two after its drain
            {"taken_at": start + timedelta(seconds=STEP * n), "client_id": None, "step": STEP}
            | {"queued": n, "in_flight": 0, "delivered": n, "failed": 0, "restricted": False}
            for n in range(6 * 60 * 5)
        ]
        values.append(values[-1] | {"taken_at": now - timedelta(minutes=1)})  # recent: kept
        db.session.execute(sa.insert(history.samples), values)
        db.session.commit()
        history.purge(now)
        kept = db.session.scalars(sa.select(HistorySample).order_by("taken_at")).all()
        in_window = [s for s in kept if s.taken_at < now - timedelta(hours=1)]
        span = history.window_span(window, now)
        assert all(span[0] <= s.taken_at <= span[1] for s in in_window)
        assert {s.step for s in in_window} == {60}
        assert len(in_window) == 81  # 1 h 20 min, one a minute (both ends included)
        assert kept[-1].taken_at == now - timedelta(minutes=1) and kept[-1].step == STEP
        assert max(s.queued for s in in_window) == max(
            v["queued"] for v in values[:-1] if span[0] <= v["taken_at"] <= span[1]
        )


def test_the_pump_counts_its_calls_in_flight_per_client(app):
    import threading
    import time

    from portal.events import processor
    from portal.events.webhooks.pump import Pump
    from tests.events_support import HOLDER, SECRET, Recorder, webhook_server

    recorder = Recorder()
    recorder.delay = 1.0
    with webhook_server(recorder) as (url, _):
        key = api_key(app)
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(app.test_client(), key, {"events": [{"type": "t", "payload": {}}] * 3})
        with app.app_context():
            processor.tick(HOLDER)
        pump = Pump(app, HOLDER)
        worker = threading.Thread(target=pump.drain)
        worker.start()
        seen, deadline = {}, time.monotonic() + 10
        while time.monotonic() < deadline and seen != {client_id(app): 3}:
            seen = pump.calls_in_flight()
            time.sleep(0.02)
        worker.join(timeout=30)
    assert seen == {client_id(app): 3}
    assert pump.calls_in_flight() == {}  # every call answered


def test_record_due_samples_once_per_interval_and_not_at_all_when_off(app, monkeypatch):
    monkeypatch.setitem(history._next, "at", 0.0)
    with app.app_context():
        assert history.record_due({}) is True
        assert history.record_due({}) is False  # within HISTORY_SAMPLE_SECONDS
        monkeypatch.setitem(history._next, "at", 0.0)
        app.config["HISTORY_SAMPLE_SECONDS"] = 0
        assert history.record_due({}) is False
        assert db.session.scalar(sa.select(sa.func.count()).select_from(HistorySample)) == 2
