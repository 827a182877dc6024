"""Settings → Maintenance windows: the report of every window, as a page and a CSV file."""

from flask import Response, render_template, request
from flask_login import current_user

from portal.authorization import client_scope
from portal.maintenance.hook import hms
from portal.maintenance.report import WindowRow, report
from portal.permissions import AUDIT_VIEW, CLIENT_SETTINGS_MANAGE, any_permission_required
from portal.settings import bp, csvfile

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
        own_client=None if scope is None else current_user.client.name,
    )


def when(value) -> str:
    """Return a timestamp as the report shows it (UTC, to the second)."""
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else ""


def cells(row: WindowRow) -> list[str]:
    """Return one window's cells, the same text on the page and in the CSV."""
    window = row.window
    periods = "; ".join(f"{when(start)} – {when(end) or 'now'}" for start, end in row.periods)
    return [
        when(window.started_at),
        row.started_by,
        window.started_via,
        when(window.ended_at) or "in progress",
        row.ended_by,
        window.ended_via or "",
        hms(row.duration_seconds),
        periods,
        str(row.refused_signins),
        str(row.events_held),
        str(row.peak_backlog),
        "draining" if row.draining else hms(row.drain_seconds),
        str(row.failed_in_drain),
        str(row.notices_sent),
        str(row.notices_failed),
    ]


def to_csv(rows: list[WindowRow]) -> str:
    """Return the report as CSV, one window a line, newest first."""
    return "".join(csvfile.lines(COLUMNS, (cells(row) for row in rows)))
