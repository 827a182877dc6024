"""Operations: retention of old events, running totals, history, online backups and Prometheus
metrics, and the window timeline built from them."""

from portal.operations import history, retention


def housekeeping(holder: str) -> int:
    """The processor's chores after its work: purge expired events (within this round's time
    budget) and old history samples; return how many events were purged."""
    history.purge_due()
    return retention.purge_due(holder)
