"""Scheduled triggers: validate a schedule, compute the next firing, and fire the due ones.

While the restriction is on nothing fires; afterwards a trigger that missed firings fires once
and adds the firings it skipped to ``missed_count``.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from portal.clock import utc_now
from portal.events.guard import begin_guarded
from portal.events.tables import events
from portal.extensions import db
from portal.models import ScheduledTrigger
from portal.models.events import EVENT_QUEUED

MIN_INTERVAL_SECONDS = 1
MAX_COUNTED_MISSES = 100_000  # stop counting cron firings past this (a year of minutes fits)


def cron_problem(expression: str) -> str | None:
    """Return why ``expression`` is not a valid five-field crontab string, else None."""
    try:
        cron = _cron(expression)
    except (ValueError, TypeError, KeyError) as exc:
        return f"Not a valid cron expression (minute hour day month weekday): {exc}"
    if cron.get_next_fire_time(None, datetime.now(UTC)) is None:
        return "This cron expression never fires (no such date)."
    return None


def schedule_problem(interval_seconds: int | None, cron: str | None) -> str | None:
    """Return why an interval/cron pair is not a usable schedule (exactly one is needed)."""
    cron = (cron or "").strip()
    if bool(interval_seconds) == bool(cron):
        return "Give either an interval in seconds or a cron expression (exactly one)."
    if interval_seconds is not None and interval_seconds < MIN_INTERVAL_SECONDS:
        return f"The interval must be at least {MIN_INTERVAL_SECONDS} second."
    return cron_problem(cron) if cron else None


def _cron(expression: str) -> CronTrigger:
    return CronTrigger.from_crontab(expression.strip(), timezone=UTC)


def next_fire_time(
    interval_seconds: int | None, cron: str | None, after: datetime
) -> datetime | None:
    """Return the first firing strictly after ``after`` (naive UTC in, naive UTC out), or None
    for a cron expression that never fires again."""
    if cron and cron.strip():
        # cron has whole-second resolution: one second later is "strictly after"
        start = (after + timedelta(seconds=1)).replace(tzinfo=UTC)
        found = _cron(cron).get_next_fire_time(None, start)
        return found.astimezone(UTC).replace(tzinfo=None) if found else None
    return after + timedelta(seconds=int(interval_seconds or 0))


def schedule(trigger: ScheduledTrigger, now: datetime | None = None) -> None:
    """Set ``next_fire_at`` of a new or edited trigger (the admin form calls this before saving)."""
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
            db.session.execute(
                sa.insert(events).values(
                    client_id=trigger.client_id,
                    type=trigger.event_type,
                    payload=trigger.payload or {},
                    received_at=now,
                    status=EVENT_QUEUED,
                    attempts=0,
                )
            )
            trigger.last_fired_at = now
            trigger.missed_count = (trigger.missed_count or 0) + count - 1
            fired += 1
        trigger.next_fire_at = following
    db.session.commit()
    return fired
