"""Schedule arithmetic of scheduled triggers: is a schedule valid, when does it fire next.

Pure functions shared by the settings page (validate, show) and the trigger engine in
``portal.events.triggers`` (fire); neither keeps its own copy.
"""

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

MIN_INTERVAL_SECONDS = 1


def _cron(expression: str) -> CronTrigger:
    return CronTrigger.from_crontab(expression.strip(), timezone=UTC)


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


def next_fire_time(
    interval_seconds: int | None, cron: str | None, after: datetime
) -> datetime | None:
    """Return the first firing strictly after ``after`` (naive UTC in, naive UTC out), or None
    without a schedule or for a cron expression that never fires again."""
    if cron and cron.strip():
        # APScheduler fires at `start` if it matches; nudge past it so "next" is strictly after.
        start = after.replace(tzinfo=UTC) + timedelta(microseconds=1)
        found = _cron(cron).get_next_fire_time(None, start)
        return found.astimezone(UTC).replace(tzinfo=None) if found else None
    if interval_seconds:
        return after + timedelta(seconds=interval_seconds)
    return None


def describe(interval_seconds: int | None, cron: str | None) -> str:
    """Return the schedule as a short human phrase."""
    if interval_seconds:
        return f"every {interval_seconds} s"
    if cron:
        return f"cron “{cron}” (UTC)"
    return "no schedule"
