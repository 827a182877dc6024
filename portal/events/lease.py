"""The processor lease: one row per database; only the holder of an unexpired lease processes."""

import os
import socket
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from portal.core.clock import utc_now
from portal.events.webhooks import health
from portal.extensions import db
from portal.maintenance import load_state
from portal.models import MaintenanceState
from portal.models.tables import lease

LEASE_ID = 1


def new_holder_id() -> str:
    """Return a name for this processor that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _ttl() -> timedelta:
    return timedelta(seconds=float(current_app.config["PROCESSOR_LEASE_TTL_SECONDS"]))


def renew_statement(holder: str, *, take_over: bool) -> sa.Update:
    """Return the atomic conditional UPDATE that (re)takes the lease for ``holder``.

    With ``take_over`` it also takes a free or expired lease; without, it only extends our own.
    """
    now = utc_now()
    mine = lease.c.holder == holder
    if take_over:
        mine = sa.or_(mine, lease.c.holder.is_(None), lease.c.expires_at < now)
    else:
        mine = sa.and_(mine, lease.c.expires_at >= now)
    outage = health.unreadable()  # whether this process's webhook pump can read, for everyone
    return (
        sa.update(lease)
        .where(lease.c.id == LEASE_ID, mine)
        .values(
            holder=holder,
            heartbeat_at=now,
            expires_at=now + _ttl(),
            restriction_unreadable_since=outage.since if outage else None,
            restriction_error=outage.error if outage else None,
        )
    )


def acquire(holder: str) -> bool:
    """Take or renew the lease; return whether ``holder`` holds it now (commits)."""
    try:
        won = db.session.execute(renew_statement(holder, take_over=True)).rowcount == 1
        if not won and db.session.execute(sa.select(lease.c.id)).first() is None:
            db.session.execute(sa.insert(lease).values(id=LEASE_ID, holder=None))
            won = db.session.execute(renew_statement(holder, take_over=True)).rowcount == 1
        db.session.commit()
    except sa.exc.IntegrityError:  # another processor created the row at the same moment
        db.session.rollback()
        return False
    return won


def heartbeat(holder: str) -> bool:
    """Extend our unexpired lease; return False if we no longer hold it (commits)."""
    held = db.session.execute(renew_statement(holder, take_over=False)).rowcount == 1
    db.session.commit()
    return held


def release(holder: str) -> None:
    """Give the lease up (clean shutdown) so another processor may start at once."""
    db.session.execute(
        sa.update(lease)
        .where(lease.c.id == LEASE_ID, lease.c.holder == holder)
        .values(holder=None, expires_at=None)
    )
    db.session.commit()


def live_lease() -> sa.Row | None:
    """Return the unexpired lease (holder, and whether its webhook pump can read the
    restriction: ``restriction_unreadable_since``, ``restriction_error``), or None."""
    return db.session.execute(
        sa.select(
            lease.c.holder, lease.c.restriction_unreadable_since, lease.c.restriction_error
        ).where(
            lease.c.id == LEASE_ID, lease.c.holder.is_not(None), lease.c.expires_at >= utc_now()
        )
    ).first()


def live_holder() -> str | None:
    """Return who holds an unexpired lease, or None."""
    row = live_lease()
    return row.holder if row else None


def webhooks_unreadable() -> sa.Row | None:
    """Return the live lease when its webhook pump cannot read the restriction (every webhook
    call is held meanwhile), else None."""
    row = live_lease()
    return row if row is not None and row.restriction_unreadable_since is not None else None


def processor_status(state: MaintenanceState | None = None) -> str:
    """Return ``paused`` while the restriction is on, else ``running`` when a processor holds a
    live lease, else ``stopped`` (``state`` saves loading the maintenance state again)."""
    if (state or load_state()).processing_paused:
        return "paused"
    return "running" if live_holder() else "stopped"
