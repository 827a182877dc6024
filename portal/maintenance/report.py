"""The window report's rows: every maintenance window with its figures, for one viewer.

A window is instance-wide (it starts, restricts and ends for every client), so its times and
restriction periods are the same for everyone. Its figures and the people who started and ended
it are not: an instance admin sees every client's figures and every name; anyone else sees the
figures of their own client only (refused sign-ins at its accounts, its events held, its backlog
and drain, its failed deliveries), and a name only if it is a user of their own client, as in
the audit log. Every figure of a finished period is fixed when its drain ends (each client's
too), so retention and later retries never change it; until then it is counted from the rows.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import notices, windows
from portal.models import MaintenanceWindow, RestrictionPeriod


@dataclass
class WindowRow:
    """One line of the report."""

    window: MaintenanceWindow
    started_by: str = ""
    ended_by: str = ""
    periods: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    duration_seconds: float = 0.0
    refused_signins: int = 0
    events_held: int = 0
    peak_backlog: int = 0
    drain_seconds: float | None = None
    draining: bool = False
    failed_in_drain: int = 0
    notices_sent: int = 0  # maintenance emails of the window (portal.maintenance.notices)
    notices_failed: int = 0


def report(client_id: int | None = None, limit: int = 500) -> list[WindowRow]:
    """Return the newest windows first, with their figures: every client's (``client_id``
    None, for instance admins) or one client's, naming only that client's people."""
    windows.observe_drains()
    now = utc_now()
    rows = db.session.scalars(
        sa.select(MaintenanceWindow).order_by(MaintenanceWindow.id.desc()).limit(limit)
    ).all()
    names = windows.shown_names((n for w in rows for n in (w.started_by, w.ended_by)), client_id)
    return [_row(window, now, client_id, names) for window in rows]


Names = Callable[[str | None], str]


def window_row(window: MaintenanceWindow, client_id: int | None = None) -> WindowRow:
    """Return one window's line of the report, for the same viewer as :func:`report`."""
    windows.observe_drains()
    names = windows.shown_names((window.started_by, window.ended_by), client_id)
    return _row(window, utc_now(), client_id, names)


def _row(window: MaintenanceWindow, now: datetime, scope: int | None, names: Names) -> WindowRow:
    row = WindowRow(window=window, started_by=names(window.started_by))
    row.ended_by = names(window.ended_by)
    row.duration_seconds = ((window.ended_at or now) - window.started_at).total_seconds()
    counts = notices.window_counts(window.id, scope)
    row.notices_sent, row.notices_failed = counts.get("sent", 0), counts.get("failed", 0)
    if scope is None and window.refused_signins is not None:
        row.refused_signins = window.refused_signins
    elif scope is not None and window.client_refused_signins is not None:
        row.refused_signins = window.client_refused_signins.get(str(scope), 0)
    else:
        row.refused_signins = windows.refused_signins(window.started_at, window.ended_at, scope)
    drains = []
    for period in window.periods:
        row.periods.append((period.started_at, period.ended_at))
        if period.ended_at is None:  # still restricted: the figures so far
            row.events_held += windows.events_received(period.started_at, now, scope)
            row.peak_backlog = max(row.peak_backlog, windows.backlog(None, scope)[0])
            continue
        row.failed_in_drain += _failed(period, scope)
        held, peak, drain = _figures(period) if scope is None else _client_figures(period, scope)
        row.events_held += held
        row.peak_backlog = max(row.peak_backlog, peak)
        if drain is None:
            row.draining = True
        else:
            drains.append(drain)
    if drains and not row.draining:
        row.drain_seconds = sum(drains)
    return row


def _failed(period: RestrictionPeriod, scope: int | None) -> int:
    if scope is not None and period.client_figures is not None:
        return period.client_figures.get(str(scope), windows.NO_FIGURES)["failed"]
    return windows.failed_in_drain(period, scope)


def _figures(period: RestrictionPeriod) -> tuple[int, int, float | None]:
    # Every client's: fixed when the restriction was lifted, the drain when it was observed.
    drain = None
    if period.drained_at is not None:
        drain = (period.drained_at - period.ended_at).total_seconds()
    return period.events_received or 0, period.peak_backlog or 0, drain


def _client_figures(period: RestrictionPeriod, client_id: int) -> tuple[int, int, float | None]:
    # One client's: fixed when the drain ended; counted from the rows until then (and for
    # periods drained before each client's figures were kept).
    if period.client_figures is not None:
        figures = period.client_figures.get(str(client_id), windows.NO_FIGURES)
    else:
        figures = windows.client_figures(period, client_id)
    return figures["held"], figures["peak"], figures["drain_seconds"]
