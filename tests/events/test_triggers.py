"""Scheduled triggers: schedules, firing when due, coalescing firings missed during maintenance."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events import trigger_schedule, triggers
from portal.extensions import db
from portal.models import Event, ScheduledTrigger
from tests.events_support import client_id, run_tick, set_restriction


@pytest.mark.parametrize("expression", ["*/5 * * * *", "0 3 * * mon-fri", "15 14 1 * *"])
def test_valid_cron(expression):
    assert trigger_schedule.cron_problem(expression) is None


@pytest.mark.parametrize(
    "expression", ["", "not cron", "61 * * * *", "* * * *", "* * * * * * *", "0 0 31 2 *"]
)
def test_invalid_cron_is_explained(expression):
    assert "cron" in trigger_schedule.cron_problem(expression)


@pytest.mark.parametrize(
    ("interval", "cron", "ok"),
    [
        (60, None, True),
        (None, "* * * * *", True),
        (None, None, False),
        (60, "* * * * *", False),
        (0, "", False),
        (None, "bad", False),
    ],
)
def test_schedule_needs_exactly_one_valid_kind(interval, cron, ok):
    assert (trigger_schedule.schedule_problem(interval, cron) is None) is ok


def test_next_fire_time():
    start = datetime(2026, 1, 1, 12, 0, 0)
    assert trigger_schedule.next_fire_time(90, None, start) == datetime(2026, 1, 1, 12, 1, 30)
    assert trigger_schedule.next_fire_time(None, "*/15 * * * *", start) == datetime(
        2026, 1, 1, 12, 15
    )
    assert trigger_schedule.next_fire_time(None, "0 9 * * *", start) == datetime(2026, 1, 2, 9, 0)


def _trigger(app, **fields) -> int:
    with app.app_context():
        values = {"name": "tick", "event_type": "heartbeat", "payload": {"from": "trigger"}}
        trigger = ScheduledTrigger(client_id=client_id(app), **{**values, **fields})
        if "next_fire_at" not in fields:
            triggers.schedule(trigger)
        db.session.add(trigger)
        db.session.commit()
        return trigger.id


def _state(app, trigger_id):
    with app.app_context():
        trigger = db.session.get(ScheduledTrigger, trigger_id)
        emitted = db.session.scalars(sa.select(Event).order_by(Event.id)).all()
        db.session.expunge_all()
        return trigger, emitted


def test_new_trigger_is_not_due_until_its_time(app):
    trigger_id = _trigger(app, interval_seconds=60)
    run_tick(app)
    trigger, emitted = _state(app, trigger_id)
    assert emitted == []
    assert trigger.next_fire_at > utc_now()


def test_due_trigger_emits_its_event_and_is_rescheduled(app):
    due = utc_now() - timedelta(seconds=1)
    trigger_id = _trigger(app, interval_seconds=60, next_fire_at=due)
    run_tick(app)
    trigger, emitted = _state(app, trigger_id)
    assert [(e.type, e.payload) for e in emitted] == [("heartbeat", {"from": "trigger"})]
    assert trigger.missed_count == 0
    assert trigger.last_fired_at is not None
    assert trigger.next_fire_at == due + timedelta(seconds=60)
    run_tick(app)
    assert len(_state(app, trigger_id)[1]) == 1


def test_trigger_missed_during_maintenance_fires_once_with_the_missed_count(app):
    trigger_id = _trigger(
        app, interval_seconds=60, next_fire_at=utc_now() - timedelta(seconds=60 * 4 + 30)
    )
    cron_id = _trigger(
        app, cron="* * * * *", name="cron", next_fire_at=utc_now() - timedelta(minutes=3)
    )
    set_restriction(app, True)
    run_tick(app)
    assert _state(app, trigger_id)[1] == []
    set_restriction(app, False)
    run_tick(app)
    trigger, emitted = _state(app, trigger_id)
    cron_trigger, _ = _state(app, cron_id)
    assert len(emitted) == 2  # each trigger fired once
    assert trigger.missed_count == 4  # five firings fell due, one ran
    assert cron_trigger.missed_count in (2, 3)  # three or four whole minutes, by the clock
    assert trigger.next_fire_at > utc_now()
    run_tick(app)
    assert len(_state(app, trigger_id)[1]) == 2


def test_disabled_trigger_never_fires(app):
    trigger_id = _trigger(
        app, interval_seconds=60, enabled=False, next_fire_at=utc_now() - timedelta(hours=1)
    )
    run_tick(app)
    assert _state(app, trigger_id)[1] == []


def test_an_unusable_trigger_does_not_stop_the_others(app):
    past = utc_now() - timedelta(seconds=5)
    _trigger(app, cron="0 0 31 2 *", name="never", next_fire_at=past)
    good = _trigger(app, interval_seconds=60, next_fire_at=past)
    run_tick(app)
    assert len(_state(app, good)[1]) == 1
