"""One notion of "now": naive UTC, the same on SQLite and PostgreSQL."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Return the current time as naive UTC (what every DateTime column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)
