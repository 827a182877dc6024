"""One maintenance window's page: its report line, its chart, and what happened in it.

The same tenancy as the report (:mod:`portal.maintenance.report`): an instance admin reads
every client's figures and entries; anyone else their own client's figures, the audit entries
the audit log shows them, their own client's refused sign-ins counted by reason (not listed:
the list names the addresses and the emails tried), and no other client's people.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import sqlalchemy as sa

from portal.accounts.authorization import client_scope, is_instance_admin, scoped_audit
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance.report import WindowRow, window_row
from portal.models import AuditEntry, MaintenanceWindow, User
from portal.operations import chart, history

REFUSED = "login_refused"
SESSION_ENDED = "session_ended"  # module "maintenance": the hook signed a blocked user out
ENTRIES = 200
_REASON = re.compile(r"\(([^)]*)\)")  # "Sign-in refused (<outcome>) from ..."
REASONS = {  # the outcomes of portal.web.auth.signin, as the page names them
    "wrong": "wrong email or password",
    "locked": "account locked",
    "maintenance": "not let in during maintenance",
    "throttled": "too many attempts from the address",
}
LAST_HOUR = timedelta(hours=1)


@dataclass
class WindowPage:
    row: WindowRow
    chart: chart.Chart
    entries: list[AuditEntry] = field(default_factory=list)
    refused_by_reason: list[tuple[str, int]] = field(default_factory=list)
    refused: list[AuditEntry] = field(default_factory=list)  # instance admins only
    sessions_ended: list[AuditEntry] = field(default_factory=list)
    links: list[tuple[str, dict]] = field(default_factory=list)  # label, /events arguments


def span(window: MaintenanceWindow, now: datetime) -> tuple[datetime, datetime]:
    """Return what the window's chart shows: a tenth before its start (at least 30 s) until a
    little after the end of its drain (now while either goes on)."""
    _, end = history.window_span(window, now)
    end = min(end, now)
    lead = max(timedelta(seconds=30), (end - window.started_at) / 10)
    return window.started_at - lead, end


def page(window: MaintenanceWindow, user: User, zone: tzinfo = UTC) -> WindowPage:
    """Return everything the window's page shows to ``user`` (its chart's times in ``zone``)."""
    now = utc_now()
    scope = client_scope(user)
    row = window_row(window, scope)
    start, end = span(window, now)
    result = WindowPage(row=row, chart=window_chart(window, scope, start, end, now, zone=zone))
    until = window.ended_at or now
    entries = db.session.scalars(
        scoped_audit(sa.select(AuditEntry), user)
        .where(AuditEntry.created_at.between(window.started_at, until))
        .order_by(AuditEntry.id)
    ).all()
    refused = [e for e in entries if e.module == "auth" and e.action == REFUSED]
    if scope is not None:  # the count is of the accounts of the viewer's own client
        refused = [e for e in refused if e.client_id == scope]
    reasons = Counter(_reason(entry) for entry in refused)
    result.refused_by_reason = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    result.refused = refused[:ENTRIES] if is_instance_admin(user) else []
    result.sessions_ended = [e for e in entries if e.action == SESSION_ENDED][:ENTRIES]
    shown = (REFUSED, SESSION_ENDED)
    result.entries = [e for e in entries if e.action not in shown][:ENTRIES]
    result.links = event_links(row)
    return result


def window_chart(
    window: MaintenanceWindow | None,
    scope: int | None,
    start: datetime,
    end: datetime,
    now: datetime,
    title: str = "",
    zone: tzinfo = UTC,
) -> chart.Chart:
    """Return the chart between ``start`` and ``end`` with the window's periods shaded (its
    times in ``zone``)."""
    maintenance, restricted = [], []
    if window is not None:
        maintenance.append((window.started_at, window.ended_at or now))
        restricted = [(p.started_at, p.ended_at or now) for p in window.periods]
        title = title or f"Backlog and deliveries of maintenance window {window.id}"
    points = history.points(start, end, scope)
    return chart.build(title, points, start, end, maintenance, restricted, zone)


def last_hour_chart(
    window: MaintenanceWindow | None, scope: int | None, zone: tzinfo = UTC
) -> chart.Chart:
    """Return the dashboard's chart: the last hour, or the open window so far."""
    now = utc_now()
    start = now - LAST_HOUR
    if window is not None and window.ended_at is None:
        start = min(start, window.started_at)
        title = "Backlog and deliveries since this maintenance window started"
    else:
        title = "Backlog and deliveries in the last hour"
    shown = window if window is not None and (window.ended_at or now) >= start else None
    return window_chart(shown, scope, start, now, now, title, zone)


def _reason(entry: AuditEntry) -> str:
    found = _REASON.search(entry.description or "")
    outcome = found.group(1) if found else ""
    return REASONS.get(outcome, outcome or "refused")


def _minute(value: datetime, up: bool = False) -> str:
    """Return a time as the events filter takes it (to the minute, UTC said with its Z, so
    the filter does not read it in the viewer's zone), rounded down or up."""
    floor = value.replace(second=0, microsecond=0)
    if up and floor < value:
        floor += timedelta(minutes=1)
    return floor.strftime("%Y-%m-%dT%H:%MZ")


def event_links(row: WindowRow) -> list[tuple[str, dict]]:
    """Return the events page filters for the window's events: those received while each
    period restricted the processor, and those of them that failed."""
    links = []
    for number, (start, end) in enumerate(row.periods, 1):
        stretch = {"since": _minute(start)}
        if end is not None:
            stretch["until"] = _minute(end, up=True)
        label = f"restriction period {number}" if len(row.periods) > 1 else "the restriction"
        links.append((f"Events received during {label}", stretch))
        links.append((f"Failed events received during {label}", stretch | {"status": "failed"}))
    return links


RECAP_HOURS = 24


@dataclass
class Recap:
    row: WindowRow
    drained_at: datetime


def last_window() -> MaintenanceWindow | None:
    """Return the newest window (open or not)."""
    return db.session.scalar(
        sa.select(MaintenanceWindow).order_by(MaintenanceWindow.id.desc()).limit(1)
    )


def recap(scope: int | None) -> Recap | None:
    """Return the last finished window if its drain ended in the last 24 hours (dashboard)."""
    window = last_window()
    if window is None or window.ended_at is None:
        return None
    if any(period.drained_at is None for period in window.periods):
        return None  # a drain goes on: the dashboard shows its progress instead
    drained_at = max([window.ended_at] + [period.drained_at for period in window.periods])
    if drained_at < utc_now() - timedelta(hours=RECAP_HOURS):
        return None
    return Recap(window_row(window, scope), drained_at)
