"""Settings → Maintenance windows: the report of every window, as a page and a CSV file."""

from functools import partial

from flask import Response, render_template, request
from flask_login import current_user
from markupsafe import Markup

from portal.accounts.authorization import client_scope
from portal.accounts.permissions import AUDIT_VIEW, CLIENT_SETTINGS_MANAGE, any_permission_required
from portal.core import timefmt
from portal.extensions import db
from portal.maintenance.hook import hms
from portal.maintenance.report import WindowRow, report
from portal.models import MaintenanceWindow
from portal.operations import timeline
from portal.web.settings import csvfile
from portal.web.settings.blueprint import bp

COLUMNS = (
    "started_at",
    "started_by",
    "started_via",
    "ended_at",
    "ended_by",
    "ended_via",
    "duration_seconds",
    "restriction_periods",
    "refused_signins",
    "events_held",
    "peak_backlog",
    "drain_seconds",
    "failed_in_drain",
    "notices_sent",
    "notices_failed",
)


@bp.route("/maintenance/windows")
@any_permission_required(CLIENT_SETTINGS_MANAGE, AUDIT_VIEW)
def maintenance_windows():
    """List every maintenance window, newest first (``?format=csv`` downloads it): every
    client's figures for an instance admin, else the viewer's own client's."""
    scope = client_scope(current_user)
    rows = report(scope)
    if request.args.get("format") == "csv":
        return Response(
            to_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=maintenance-windows.csv"},
        )
    return render_template(
        "settings/maintenance_windows.html",
        rows=rows,
        cells=cells,
        headings=PAGE_ORDER,
        own_client=None if scope is None else current_user.client.name,
    )


@bp.route("/maintenance/windows/<int:window_id>")
@any_permission_required(CLIENT_SETTINGS_MANAGE, AUDIT_VIEW)
def maintenance_window(window_id: int):
    """Show one maintenance window: who and how, its chart, and what happened in it."""
    window = db.get_or_404(MaintenanceWindow, window_id)
    scope = client_scope(current_user)
    return render_template(
        "settings/maintenance_window.html",
        window=window,
        page=timeline.page(window, current_user, timefmt.viewer_zone()),
        when=partial(timefmt.moment, seconds=True),
        own_client=None if scope is None else current_user.client.name,
    )


def when(value) -> str:
    """Return a timestamp as the report shows it (UTC, ISO 8601 to the second, with its Z)."""
    return f"{value:%Y-%m-%dT%H:%M:%SZ}" if value else ""


# The page puts the figures that matter first; the CSV keeps its column order.
PAGE_ORDER = (
    ("started_at", "Started"),
    ("duration_seconds", "Duration"),
    ("events_held", "Events held"),
    ("peak_backlog", "Peak backlog"),
    ("drain_seconds", "Drain time"),
    ("failed_in_drain", "Failed deliveries in drain"),
    ("refused_signins", "Refused sign-ins"),
    ("notices_sent", "Notices sent"),
    ("notices_failed", "Notices failed"),
    ("restriction_periods", "Restriction periods"),
    ("started_by", "Started by"),
    ("started_via", "Started via"),
    ("ended_at", "Ended"),
    ("ended_by", "Ended by"),
    ("ended_via", "Ended via"),
)


def values(row: WindowRow, duration=hms) -> dict[str, str]:
    """Return one window's figures by CSV column, durations written by ``duration``."""
    window = row.window
    periods = "; ".join(f"{when(start)} – {when(end) or 'now'}" for start, end in row.periods)
    return {
        "started_at": when(window.started_at),
        "started_by": row.started_by,
        "started_via": window.started_via,
        "ended_at": when(window.ended_at) or "in progress",
        "ended_by": row.ended_by,
        "ended_via": window.ended_via or "",
        "duration_seconds": duration(row.duration_seconds),
        "restriction_periods": periods,
        "refused_signins": str(row.refused_signins),
        "events_held": str(row.events_held),
        "peak_backlog": str(row.peak_backlog),
        "drain_seconds": "draining" if row.draining else duration(row.drain_seconds),
        "failed_in_drain": str(row.failed_in_drain),
        "notices_sent": str(row.notices_sent),
        "notices_failed": str(row.notices_failed),
    }


def cells(row: WindowRow) -> list[tuple[str, str]]:
    """Return one window's cells as the page shows them: (column, text or markup), times in
    the viewer's zone (the first cell is a link: its time is not focusable on its own),
    durations H:MM:SS."""
    found = values(row)
    window = row.window
    found["started_at"] = timefmt.moment(window.started_at, seconds=True, focusable=False)
    found["ended_at"] = timefmt.moment(window.ended_at, seconds=True) or "in progress"
    found["restriction_periods"] = Markup("; ").join(
        Markup("{} – {}").format(
            timefmt.moment(start, seconds=True), timefmt.moment(end, seconds=True) or "now"
        )
        for start, end in row.periods
    )
    return [(name, found[name]) for name, _ in PAGE_ORDER]


def seconds(value: float | None) -> str:
    """Return a duration as the CSV holds it: whole seconds."""
    return "" if value is None else str(int(round(value)))


def to_csv(rows: list[WindowRow]) -> str:
    """Return the report as CSV, one window a line, newest first."""
    lines = ([values(row, seconds)[name] for name in COLUMNS] for row in rows)
    return "".join(csvfile.lines(COLUMNS, lines))
