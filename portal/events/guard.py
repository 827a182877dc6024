"""The restriction check the processor makes before starting work or making a call."""

import threading

from portal.core.clock import utc_now
from portal.events import lease
from portal.extensions import db
from portal.maintenance import FLAGS, restriction_holds

stopping = threading.Event()  # set on shutdown: finish the current step, start no other


def restriction_on(*, lock: bool = False) -> bool:
    """Read the restriction fresh from the database (never from a cached ORM object)."""
    query = FLAGS
    if lock:  # PostgreSQL: a save that turns it on waits for our transaction, and vice versa
        query = query.with_for_update(read=True)
    return restriction_holds(db.session.execute(query).first(), utc_now())


def begin_guarded(holder: str) -> bool:
    """Open a write transaction that may start work: we still hold the lease and the
    restriction is off. On False the transaction is rolled back.

    The lease UPDATE comes first so the restriction is read while we already hold the write
    lock (SQLite) or a share lock on the state row (PostgreSQL): a save that turns the
    restriction on commits either before this read (and we start nothing) or after our commit.
    """
    if db.session.execute(lease.renew_statement(holder, take_over=False)).rowcount != 1:
        db.session.rollback()
        return False
    if restriction_on(lock=True):
        db.session.rollback()
        return False
    return True
