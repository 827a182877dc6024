"""Operations: retention of old events, running totals, online backups and Prometheus metrics."""


def housekeeping(holder: str) -> int:
    """The processor's chores after its work: purge expired events (within this round's time
    budget) and old history samples; return how many events were purged."""
    from portal.operations import history, retention

    history.purge_due()
    return retention.purge_due(holder)
