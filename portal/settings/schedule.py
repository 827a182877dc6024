"""Schedule arithmetic of scheduled triggers (cron parsing and the next fire time).

The trigger engine in ``portal.events`` owns firing; this module only answers "is this a valid
schedule" and "when is the next firing", so the settings page can validate and show it.
"""

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger


def cron_problem(expression: str) -> str | None:
    """Return why ``expression`` is not a valid 5-field cron expression, else None."""
    try:
        trigger = CronTrigger.from_crontab(expression.strip(), timezone=UTC)
    except (ValueError, TypeError, KeyError) as exc:
        return f"Not a valid cron expression: {exc}"
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        return "This cron expression never fires (no such date)."
    return None


def next_fire_time(
    interval_seconds: int | None, cron: str | None, after: datetime
) -> datetime | None:
    """Return the first firing strictly after ``after`` (naive UTC in, naive UTC out)."""
    if interval_seconds:
        return after + timedelta(seconds=interval_seconds)
    if cron:
        trigger = CronTrigger.from_crontab(cron.strip(), timezone=UTC)
        # APScheduler fires at `now` if it matches; nudge past it so "next" is in the future.
        start = after.replace(tzinfo=UTC) + timedelta(microseconds=1)
        fire = trigger.get_next_fire_time(None, start)
        return fire.astimezone(UTC).replace(tzinfo=None) if fire else None
    return None


def describe(interval_seconds: int | None, cron: str | None) -> str:
    """Return the schedule as a short human phrase."""
    if interval_seconds:
        return f"every {interval_seconds} s"
    if cron:
        return f"cron “{cron}” (UTC)"
    return "no schedule"
