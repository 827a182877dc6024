"""Scheduled triggers: fire the due ones (the schedule arithmetic is
``portal.events.trigger_schedule``).

While the restriction is on nothing fires; afterwards a trigger that missed firings fires once
and adds the firings it skipped to ``missed_count``.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events.guard import begin_guarded
from portal.events.ingest import insert_queued, payload_json
from portal.events.trigger_schedule import next_fire_time, schedule_problem
from portal.extensions import db
from portal.models import ScheduledTrigger

MAX_COUNTED_MISSES = 100_000  # stop counting cron firings past this (a year of minutes fits)


def schedule(trigger: ScheduledTrigger, now: datetime | None = None) -> None:
    """Set ``next_fire_at`` of a new or edited trigger from ``now``."""
    trigger.next_fire_at = next_fire_time(trigger.interval_seconds, trigger.cron, now or utc_now())


def due_firings(trigger: ScheduledTrigger, now: datetime) -> tuple[int, datetime | None]:
    """Return how many firings fell due up to ``now`` and the first firing after ``now``."""
    if trigger.next_fire_at is None or trigger.next_fire_at > now:
        return 0, trigger.next_fire_at or next_fire_time(
            trigger.interval_seconds, trigger.cron, now
        )
    if not (trigger.cron or "").strip():
        step = timedelta(seconds=int(trigger.interval_seconds or 0))
        count = int((now - trigger.next_fire_at) / step) + 1
        return count, trigger.next_fire_at + count * step
    count, when = 1, trigger.next_fire_at
    while count < MAX_COUNTED_MISSES:
        when = next_fire_time(None, trigger.cron, when)
        if when is None or when > now:
            return count, when
        count += 1
    return count, next_fire_time(None, trigger.cron, now)


def fire_due(holder: str) -> int:
    """Fire every due enabled trigger once (coalesced) unless restricted; return how many fired."""
    if not begin_guarded(holder):
        return 0
    now = utc_now()
    due = db.session.scalars(
        sa.select(ScheduledTrigger)
        .where(
            ScheduledTrigger.enabled.is_(True),
            sa.or_(ScheduledTrigger.next_fire_at.is_(None), ScheduledTrigger.next_fire_at <= now),
        )
        .order_by(ScheduledTrigger.next_fire_at, ScheduledTrigger.id)
    ).all()
    fired = 0
    for trigger in due:
        if schedule_problem(trigger.interval_seconds, trigger.cron):
            continue  # an unusable schedule never fires; the admin page shows why
        count, following = due_firings(trigger, now)
        if count:
            row = (trigger.event_type, payload_json(trigger.payload or {}) or "{}", None)
            insert_queued(db.session.connection(), trigger.client_id, now, [row])
            trigger.last_fired_at = now
            trigger.missed_count = (trigger.missed_count or 0) + count - 1
            fired += 1
        trigger.next_fire_at = following
    db.session.commit()
    return fired
