"""A maintenance window's own page (/settings/maintenance/windows/<id>): its chart equals the
samples, the viewer's tenancy, the audited sessions ended by maintenance, and the list's
links and CSV."""

import re
from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import AuditEntry, HistorySample, MaintenanceWindow
from portal.operations import history
from tests.conftest import login
from tests.events_support import client_id
from tests.maintenance.test_maintenance_windows import (
    ADMIN,
    REPORT,
    report_rows,
    two_clients_window,
)
from tests.maintenance_helpers import set_maintenance

CELL = re.compile(r"<td>(.*?)</td>")
STAMP = re.compile(r'<time datetime="([^"]+)"')  # a time: its machine-readable UTC


def window_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(MaintenanceWindow.id)))


def add_samples(app, client: int | None, figures: list[tuple[int, int, int, int]]) -> list:
    """Store samples (queued, in flight, delivered total, failed total) 10 s apart from a
    minute before now, in the newest window (moved to have started five minutes ago); return
    the times."""
    with app.app_context():
        window = db.session.get(MaintenanceWindow, window_id(app))
        shift = window.started_at - (utc_now() - timedelta(minutes=5))
        if shift > timedelta(0):
            window.started_at -= shift
            for period in window.periods:
                period.started_at -= shift
        start = utc_now().replace(microsecond=0) - timedelta(minutes=1)
        rows = [
            {"taken_at": start + timedelta(seconds=10 * n), "client_id": client, "step": 10}
            | {"queued": q, "in_flight": f, "delivered": d, "failed": x, "restricted": n < 2}
            for n, (q, f, d, x) in enumerate(figures)
        ]
        db.session.execute(sa.insert(history.samples), rows)
        db.session.commit()
        return [row["taken_at"] for row in rows]


def table_rows(page: str) -> list[list[str]]:
    table = page.split('class="report chart-table"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [STAMP.match(cell).group(1) if STAMP.match(cell) else cell for cell in CELL.findall(row)]
        for row in body.split("<tr>")[1:]
    ]


def test_the_chart_and_its_table_equal_the_samples(app, client):
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    times = add_samples(app, None, [(5, 0, 0, 0), (7, 0, 0, 0), (4, 3, 30, 2), (0, 1, 80, 2)])
    set_maintenance(app, False, **ADMIN)
    login(client)
    page = client.get(f"{REPORT}/{window_id(app)}").get_data(as_text=True)
    rows = table_rows(page)
    stamps = [f"{at:%Y-%m-%dT%H:%M:%SZ}" for at in times]
    assert rows == [
        [stamps[0], "5", "0", "0.0", "0", "yes"],
        [stamps[1], "7", "0", "0.0", "0", "yes"],
        [stamps[2], "4", "3", "3.0", "2", "no"],
        [stamps[3], "0", "1", "5.0", "0", "no"],
    ]
    assert 'data-values="5 7 4 0"' in page  # held and queued, as plotted
    assert 'data-values="0.0 0.0 3.0 5.0"' in page  # deliveries per second
    assert page.count('class="bar"') == 1  # one stretch with failures
    assert '<svg viewBox="0 0 720' in page and 'role="img"' in page
    assert '<title id="window-chart-title">' in page and '<desc id="window-chart-desc">' in page
    assert "band band-maintenance" in page and "band band-restricted" in page
    assert "<script" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    assert " style=" not in page  # the CSP's style-src 'self': classes only


def test_the_windows_list_links_each_row_and_the_csv_holds_seconds_and_zoned_times(app, client):
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    with app.app_context():
        window = db.session.get(MaintenanceWindow, window_id(app))
        window.started_at -= timedelta(seconds=3725)
        window.periods[0].started_at = window.started_at
        db.session.commit()
    set_maintenance(app, False, **ADMIN)
    login(client)
    page = client.get(REPORT).get_data(as_text=True)
    assert f'href="{REPORT}/{window_id(app)}"' in page
    headings = re.findall(r'<th scope="col">([^<]*)</th>', page)
    assert headings[:6] == [
        "Started",
        "Duration",
        "Events held",
        "Peak backlog",
        "Drain time",
        "Failed deliveries in drain",
    ]
    (row,) = report_rows(client)
    assert 3725 <= int(row["duration_seconds"]) <= 3735 and row["drain_seconds"].isdigit()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["started_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["ended_at"])
    assert "window-list-scroll" in page
    assert client.get(f"{REPORT}/{window_id(app) + 1}").status_code == 404


def test_a_client_scoped_viewer_sees_own_figures_and_no_other_clients_people(app, make_user):
    two_clients_window(app, make_user)
    acme, beta = client_id(app, "Acme"), client_id(app, "Beta")
    add_samples(app, acme, [(2, 0, 0, 0), (0, 1, 2, 0)])
    add_samples(app, beta, [(3, 0, 0, 0), (0, 2, 3, 3)])
    add_samples(app, None, [(5, 0, 0, 0), (0, 3, 5, 3)])
    auditor = app.test_client()
    login(auditor, "auditor@acme.example")
    page = auditor.get(f"{REPORT}/{window_id(app)}").get_data(as_text=True)
    assert [row[1] for row in table_rows(page)] == ["2", "0"]  # Acme's backlog, not the total
    assert 'data-values="0 1"' in page  # Acme's calls in flight
    assert "admin@example.com" not in page and "beta" not in page.lower()
    assert "an administrator" in page and "boss@acme.example" in page
    assert 'id="refused-list"' not in page  # counted by reason, not listed
    assert "<li>wrong email or password: 1</li>" in page
    admin = app.test_client()
    login(admin)
    page = admin.get(f"{REPORT}/{window_id(app)}").get_data(as_text=True)
    assert [row[1] for row in table_rows(page)] == ["5", "0"]  # every client's
    assert 'id="refused-list"' in page and "nobody@example.com" in page
    assert "viewer@beta.example" in page
    assert "status=failed" in page  # the failed events of its drain, on the events page
    viewer = app.test_client()
    login(viewer, "viewer@beta.example")
    assert viewer.get(f"{REPORT}/{window_id(app)}").status_code == 403


def test_a_session_ended_by_maintenance_is_audited_and_listed(app, client, make_user):
    make_user("blocked@example.com", roles=("Viewer",))
    blocked = app.test_client()
    login(blocked, "blocked@example.com")
    assert blocked.get("/").status_code == 200
    set_maintenance(app, True, **ADMIN)
    assert blocked.get("/").status_code == 302  # signed out
    assert blocked.get("/").status_code == 302  # no longer signed in: no second entry
    with app.app_context():
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "session_ended")
        ).all()
        assert [(e.actor, e.module) for e in entries] == [("blocked@example.com", "auth")]
    login(client)
    page = client.get(f"{REPORT}/{window_id(app)}").get_data(as_text=True)
    assert "blocked@example.com" in page.split('id="sessions-ended"', 1)[1].split("</ul>")[0]


def test_samples_recorded_while_the_window_runs_reach_its_page(app, client):
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    with app.app_context():
        history.record({}, 10, utc_now())
        assert db.session.scalar(sa.select(sa.func.count()).select_from(HistorySample)) == 2
    login(client)
    page = client.get(f"{REPORT}/{window_id(app)}").get_data(as_text=True)
    assert len(table_rows(page)) == 1 and table_rows(page)[0][-1] == "yes"


def test_the_dashboard_charts_the_last_hour_and_recaps_the_last_window_for_a_day(app, client):
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    add_samples(app, None, [(3, 0, 0, 0), (0, 2, 3, 1)])
    with app.app_context():  # an hour-old sample is left out
        history.record({}, 10, utc_now() - timedelta(hours=2))
    login(client)
    page = client.get("/").get_data(as_text=True)
    assert "since this maintenance window started" in page  # during a window: the window so far
    assert 'id="window-recap"' not in page
    set_maintenance(app, False, **ADMIN)
    page = client.get("/").get_data(as_text=True)
    chart = page.split('id="dashboard-chart"', 1)[1]
    assert [row[1] for row in table_rows(chart)] == ["3", "0"]
    assert "Backlog and deliveries in the last hour" in page
    recap = page.split('id="window-recap"', 1)[1].split("</div>", 1)[0]
    assert f'href="{REPORT}/{window_id(app)}"' in recap and 'id="recap-held"' in recap
    with app.app_context():  # the drain ended 25 hours ago: no recap any more
        window = db.session.get(MaintenanceWindow, window_id(app))
        for period in window.periods:
            period.started_at -= timedelta(hours=25)
            period.ended_at -= timedelta(hours=25)
            period.drained_at -= timedelta(hours=25)
        window.started_at -= timedelta(hours=25)
        window.ended_at -= timedelta(hours=25)
        db.session.commit()
    assert 'id="window-recap"' not in client.get("/").get_data(as_text=True)


def test_the_maintenance_card_says_a_start_is_scheduled(app, client):
    login(client)
    assert "Maintenance mode is off." in client.get("/").get_data(as_text=True)
    start = utc_now() + timedelta(hours=3)
    set_maintenance(app, False, scheduled_start=start, restrict_event_processor=True, **ADMIN)
    page = client.get("/").get_data(as_text=True)
    shown = page.split('id="maintenance-scheduled">', 1)[1].split("</strong>", 1)[0]
    assert f'a start is scheduled for <time datetime="{start:%Y-%m-%dT%H:%M:%S}Z"' in shown
    assert f"{start:%Y-%m-%d %H:%M} UTC" in shown and "(in 3 hours)" in shown
    assert "Maintenance mode is off." not in page
