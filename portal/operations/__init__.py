"""Operations: retention of old events, running totals, history, online backups and Prometheus
metrics, and the window timeline built from them."""

from flask import Flask

from portal.events import hooks
from portal.operations import history, retention


def housekeeping(holder: str) -> int:
    """The processor's chores after its work: purge expired events (within this round's time
    budget) and old history samples; return how many events were purged."""
    history.purge_due()
    return retention.purge_due(holder)


def init_app(app: Flask) -> None:
    """Add the chores and the history sampling to the event processor's rounds."""
    added = hooks.of(app)
    added.housekeeping = housekeeping
    added.after_tick = history.record_due
