"""A scheduled start: reading the time, and applying it exactly once when it comes.

Whichever process notices first (a request's hook, the processor's tick) applies the start:
a conditional UPDATE that clears the pending start only while it is still pending, so of
several racing processes exactly one wins and records it.
"""

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from portal import audit
from portal.core.clock import utc_now
from portal.extensions import db
from portal.mail import outbox
from portal.maintenance import notices
from portal.maintenance.changes import MaintenanceError, update_state
from portal.maintenance.guardrails import managers_who_could_sign_in
from portal.maintenance.rule import Selection
from portal.maintenance.windows import SCHEDULER
from portal.models import MaintenanceState
from portal.models.maintenance import STATE_ID

STARTED, CANCELLED = "started", "cancelled"
UNSAFE = (
    "The scheduled start was cancelled: with the saved bypass roles and groups, no active user "
    "with the client_settings:manage permission could sign in, so nobody could end it from "
    "the web. Choose a bypass role and group that an admin holds, and schedule it again."
)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?$")
_table = MaintenanceState.__table__


def parse_start(text: str) -> datetime:
    """Return ``text`` (``YYYY-MM-DDTHH:MM``, UTC unless it names an offset) as naive UTC."""
    text = (text or "").strip()
    if not _ISO.match(text):
        raise MaintenanceError(
            "The start time must look like 2026-12-01T18:00 (UTC), optionally ending in Z."
        )
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # e.g. 2026-02-30, or an offset past year 1
        raise MaintenanceError(f"The start time {text!r} is not a valid date and time.") from None
    return value


def start_if_due(now: datetime | None = None) -> str | None:
    """Apply a scheduled start whose time has come; return ``started``, ``cancelled`` or None.

    Commits. The claim and the start (or its cancellation) are one transaction, audited with
    the actor ``scheduler``.
    """
    now = now or utc_now()
    claim = (
        sa.update(_table)
        .where(
            _table.c.id == STATE_ID,
            _table.c.enabled.is_(False),
            _table.c.scheduled_start.is_not(None),
            _table.c.scheduled_start <= now,
        )
        .values(scheduled_start=None)
    )
    due = db.session.scalar(sa.select(_table.c.scheduled_start).where(_table.c.id == STATE_ID))
    if due is None or due > now or db.session.execute(claim).rowcount != 1:
        db.session.rollback()
        return None
    state = db.session.get(MaintenanceState, STATE_ID, populate_existing=True)
    if not managers_who_could_sign_in(
        Selection(list(state.bypass_roles), list(state.bypass_groups))
    ):
        state.schedule_cancelled_at = now
        state.schedule_cancelled_reason = UNSAFE
        outbox.cancel_pending(notices.NOTICE)  # not sent yet: nothing starts
        audit.record(
            SCHEDULER,
            "maintenance",
            "schedule_cancelled",
            UNSAFE,
            before={"scheduled_start": _iso(due)},
            after={"scheduled_start": None},
        )
        db.session.commit()
        return CANCELLED
    update_state(state, SCHEDULER, enabled=True)
    db.session.commit()
    return STARTED


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None
