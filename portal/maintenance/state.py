"""Reading the one state row: the cheap flags every request reads, and the full ORM row."""

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import MaintenanceState
from portal.models.maintenance import DEFAULT_NOTICE_MINUTES, STATE_ID, restricted_at

DEFAULT_MESSAGE = "The gateway is undergoing maintenance. Please try again later."
MAX_NOTICE_MINUTES = 7 * 24 * 60  # the longest advance notice of a scheduled start

_table = MaintenanceState.__table__
# The flags alone, as a Core statement: the per-request check costs one small query and
# loads the ORM state (with its bypass lists) only while maintenance is on or announced.
FLAGS = sa.select(
    _table.c.enabled,
    _table.c.restrict_event_processor,
    _table.c.scheduled_start,
    _table.c.notice_minutes,
    _table.c.changed_at,
).where(_table.c.id == STATE_ID)


@dataclass(frozen=True)
class Flags:
    """The state as templates and the API read it while maintenance is off."""

    enabled: bool = False
    restrict_event_processor: bool = False
    scheduled_start: datetime | None = None
    notice_minutes: int = DEFAULT_NOTICE_MINUTES

    @property
    def processing_paused(self) -> bool:
        """Return whether event processing is held now (see :func:`restricted_at`)."""
        return restricted_at(
            self.enabled, self.restrict_event_processor, self.scheduled_start, utc_now()
        )


def restriction_holds(flags, now: datetime) -> bool:
    """Return whether a row of :data:`FLAGS` (None: no state saved) holds the processor."""
    if flags is None:
        return False
    return restricted_at(flags.enabled, flags.restrict_event_processor, flags.scheduled_start, now)


def notice_from(scheduled_start: datetime | None, notice_minutes: int | None) -> datetime | None:
    """Return when the advance notice of a scheduled start begins (None: nothing scheduled)."""
    if scheduled_start is None:
        return None
    return scheduled_start - timedelta(minutes=notice_minutes or 0)


def phase(flags, now: datetime) -> str:
    """Return ``on``, ``due`` (start time passed, not applied yet), ``notice``, or ``off``."""
    if flags is None:
        return "off"
    if flags.enabled:
        return "on"
    if flags.scheduled_start is None:
        return "off"
    if now >= flags.scheduled_start:
        return "due"
    return "notice" if now >= notice_from(flags.scheduled_start, flags.notice_minutes) else "off"


def _default_state() -> MaintenanceState:
    """Return the state of an instance that never saved one: off, nothing selected."""
    return MaintenanceState(
        id=STATE_ID,
        enabled=False,
        restrict_event_processor=False,
        message="",
        notice_minutes=DEFAULT_NOTICE_MINUTES,
    )


def load_state() -> MaintenanceState:
    """Return the instance's state row (a disabled, unsaved default if setup never ran)."""
    return db.session.get(MaintenanceState, STATE_ID) or _default_state()


def get_or_create_state() -> MaintenanceState:
    """Return the state row, adding it to the session if it does not exist yet."""
    state = db.session.get(MaintenanceState, STATE_ID)
    if state is None:
        state = _default_state()
        db.session.add(state)
        db.session.flush()
    return state


def display_message(state: MaintenanceState) -> str:
    """Return the message to show (the admin's text, or a default one)."""
    return state.message.strip() or DEFAULT_MESSAGE


def version(flags, now: datetime) -> str:
    """Return a short tag that changes whenever what an open page shows about maintenance
    changes: a saved change, or the clock reaching the notice or the start time."""
    if flags is None:
        return "none"
    parts = (
        flags.enabled,
        flags.restrict_event_processor,
        flags.scheduled_start,
        flags.notice_minutes,
        flags.changed_at,
        phase(flags, now),
    )
    return format(zlib.crc32(repr(parts).encode()), "08x")
