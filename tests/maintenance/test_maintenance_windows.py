"""The window report (SPEC §3 rule 14) against a scripted window with known counts, its CSV,
and the live poll that open pages use (rule 13)."""

import csv
import io
import re
import time

import sqlalchemy as sa

from portal.events import operations
from portal.extensions import db
from portal.maintenance import live
from portal.models import Delivery, MaintenanceWindow, User
from portal.web.settings.csvfile import escape_cell
from portal.web.settings.windows import COLUMNS, to_csv
from tests.conftest import login
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    webhook_server,
)
from tests.maintenance_helpers import set_maintenance

REPORT = "/settings/maintenance/windows"
ADMIN = {"roles": ("Administrator",), "groups": ("Administrators",)}


def report_rows(client) -> list[dict]:
    response = client.get(REPORT + "?format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_report_figures_of_a_scripted_window(app, client):
    key = api_key(app)
    add_workflow(app, name="keep")  # record: succeeds
    add_workflow(app, name="broken", action="unknown-action", event_type="door.opened")
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    http = app.test_client()
    doors = [{"type": "door.opened", "payload": {"n": n}} for n in range(3)]
    others = [{"type": "heartbeat", "payload": {"n": n}} for n in range(4)]
    assert post_events(http, key, {"events": doors + others}).status_code == 202
    for _ in range(2):  # refused sign-ins during the window (a wrong password, an unknown email)
        login(app.test_client(), "nobody@example.com", "wrong-password-1")
    run_tick(app)  # restricted: starts nothing
    set_maintenance(app, False, **ADMIN)  # lifts the restriction and ends the window (cli)
    run_tick(app)
    run_tick(app)
    login(client)
    (row,) = report_rows(client)
    assert row["started_by"] == "cli" and row["started_via"] == "cli"
    assert row["ended_by"] == "cli" and row["ended_via"] == "cli"
    assert row["refused_signins"] == "2"
    assert row["events_held"] == "7"
    assert row["peak_backlog"] == "7"
    assert row["failed_in_drain"] == "3"  # the three door events hit the broken workflow
    assert row["drain_seconds"] not in ("", "draining")
    assert row["restriction_periods"].count("–") == 1
    page = client.get(REPORT).get_data(as_text=True)
    for name in ("refused_signins", "events_held", "peak_backlog", "failed_in_drain"):
        assert f"<td>{row[name]}</td>" in page


def test_report_is_newest_first_and_counts_periods_within_a_window(app, client):
    set_maintenance(app, True, **ADMIN)  # window 1: no restriction
    set_maintenance(app, False, **ADMIN)
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)  # window 2
    set_maintenance(app, True, restrict_event_processor=False, **ADMIN)
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    login(client)
    rows = report_rows(client)
    assert len(rows) == 2
    assert rows[0]["ended_at"] == "in progress"
    assert rows[0]["restriction_periods"].count("–") == 2
    assert rows[0]["restriction_periods"].endswith("now")
    assert rows[1]["restriction_periods"] == ""
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MaintenanceWindow.id))) == 2


def test_csv_matches_the_page_and_escapes_formulas(app, client):
    set_maintenance(app, True, **ADMIN)
    set_maintenance(app, False, **ADMIN)
    with app.app_context():
        window = db.session.scalar(sa.select(MaintenanceWindow))
        window.started_by = '=HYPERLINK("http://x")'
        window.ended_by = "@SUM(A1)"
        db.session.commit()
    login(client)
    rows = report_rows(client)
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["started_by"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["ended_by"] == "'@SUM(A1)"
    page = client.get(REPORT).get_data(as_text=True)
    assert "<td>=HYPERLINK(&#34;http://x&#34;)</td>" in page
    assert rows[0]["duration_seconds"] in page and rows[0]["started_at"] in page
    for text in ("=1", "+1", "-1", "@x", "\tx"):
        assert escape_cell(text) == "'" + text
    assert escape_cell("cli") == "cli"
    assert to_csv([]).strip() == ",".join(COLUMNS)


def test_audit_viewers_open_the_report(app, make_user):
    from portal import accounts

    with app.app_context():
        accounts.create_role("Auditor", ["audit:view"])
        db.session.commit()
    make_user("auditor@example.com", roles=("Auditor",), groups=("Administrators",))
    client = app.test_client()
    login(client, "auditor@example.com")
    assert client.get(REPORT).status_code == 200
    assert "Maintenance windows" in client.get("/auth/password").get_data(as_text=True)


def poll(client, tag: str | None = None):
    headers = {"Accept": "application/json"}
    if tag is not None:
        headers["If-None-Match"] = f'"{tag}"'
    return client.get(live.POLL_PATH, headers=headers)


def test_live_poll_answers_304_until_the_state_changes(app, client, monkeypatch):
    monkeypatch.setattr(live, "CACHE_SECONDS", 0.0)
    first = poll(client)
    assert first.status_code == 200
    tag = first.json["version"]
    assert first.headers["ETag"] == f'"{tag}"'
    assert poll(client, tag).status_code == 304
    set_maintenance(app, True, **ADMIN)
    changed = poll(client, tag)
    assert changed.status_code == 200 and changed.json["version"] != tag
    assert poll(client, changed.json["version"]).status_code == 304


def test_live_poll_shows_the_banner_to_bypass_users_and_sends_blocked_users_away(
    app, client, make_user
):
    make_user("blocked@example.com", roles=("Viewer",), groups=("Administrators",))
    blocked = app.test_client()
    login(blocked, "blocked@example.com")
    login(client)
    tag = poll(client).json["version"]
    set_maintenance(app, True, message="Back soon", **ADMIN)
    time.sleep(live.CACHE_SECONDS + 0.1)
    answer = poll(client, tag)
    assert answer.status_code == 200 and answer.json["signed_in"] is True
    assert 'id="maintenance-banner"' in answer.json["banners"]
    assert "Back soon" in answer.json["banners"]
    refused = poll(blocked, tag)
    assert refused.status_code == 503
    assert refused.json["message"] == "Back soon"


def test_dashboard_shows_elapsed_time_and_held_count_then_drain_progress(app, client):
    from portal.core.clock import utc_now
    from portal.models.tables import events

    key = api_key(app)
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    five = [{"type": "t", "payload": {"n": n}} for n in range(5)]
    assert post_events(app.test_client(), key, {"events": five}).status_code == 202
    login(client)
    page = client.get("/").get_data(as_text=True)
    assert 'id="window-elapsed"' in page and "started by cli via cli" in page
    assert re.search(r'id="window-held">[^<]*<strong>5</strong>', page)
    set_maintenance(app, False, **ADMIN)
    page = client.get("/").get_data(as_text=True)
    assert 'id="window-elapsed"' not in page
    assert '<progress id="drain-progress" class="progress" max="5" value="0">' in page
    assert "Estimating the time left" in page
    with app.app_context():  # the processor got through two of them
        first_two = sa.select(events.c.id).order_by(events.c.id).limit(2).scalar_subquery()
        db.session.execute(
            sa.update(events)
            .where(events.c.id.in_(first_two))
            .values(status="processed", processed_at=utc_now())
        )
        db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert 'max="5" value="2"' in page and "2 of 5 done (40 %)" in page
    assert re.search(r"About \d+:\d\d:\d\d left", page)
    run_tick(app)
    assert 'id="drain-progress"' not in client.get("/").get_data(as_text=True)


def as_admin(app, email: str, enabled: bool, roles=ADMIN["roles"], **changes) -> None:
    """Switch maintenance on or off as the signed-in instance admin ``email`` would (web),
    letting in the Administrators group with ``roles``."""
    from portal import accounts
    from portal.maintenance import get_or_create_state
    from portal.maintenance.changes import update_state

    with app.app_context():
        update_state(
            get_or_create_state(),
            accounts.find_user(email),
            enabled=enabled,
            bypass_roles=accounts.find_roles(roles),
            bypass_groups=accounts.find_groups(ADMIN["groups"]),
            **changes,
        )
        db.session.commit()


def two_clients_window(app, make_user) -> None:
    """A window started by admin@example.com (Default) and ended by boss@acme.example (an
    instance admin of Acme), holding 2 events of Acme and 3 of Beta (whose workflow fails), with
    one refused sign-in at Acme's accounts, two at Beta's and one at an unknown email."""
    from portal import accounts

    acme, beta = api_key(app, "Acme"), api_key(app, "Beta")
    with app.app_context():
        accounts.create_role("Auditor", ["audit:view", "dashboard:view"])
        db.session.commit()
    make_user("auditor@acme.example", roles=("Auditor",), groups=("Administrators",), client="Acme")
    make_user("boss@acme.example", roles=ADMIN["roles"], groups=ADMIN["groups"], client="Acme")
    make_user("viewer@beta.example", roles=("Viewer",), groups=("Administrators",), client="Beta")
    add_workflow(app, "Acme", name="keep")
    add_workflow(app, "Beta", name="broken", action="unknown-action")
    as_admin(app, "admin@example.com", True, restrict_event_processor=True)
    http = app.test_client()
    for key, count in ((acme, 2), (beta, 3)):
        body = {"events": [{"type": "t", "payload": {"n": n}} for n in range(count)]}
        assert post_events(http, key, body).status_code == 202
    for email in ("auditor@acme.example", "viewer@beta.example", "viewer@beta.example"):
        login(app.test_client(), email, "wrong-password-1")
    login(app.test_client(), "nobody@example.com", "wrong-password-1")
    as_admin(app, "boss@acme.example", False)
    run_tick(app)
    run_tick(app)


def test_instance_admin_reads_every_clients_figures_and_names(app, client, make_user):
    """Issue 17.5: the instance admin's report counts every client and names everyone."""
    two_clients_window(app, make_user)
    login(client)
    (row,) = report_rows(client)
    assert row["started_by"] == "admin@example.com" and row["ended_by"] == "boss@acme.example"
    assert row["refused_signins"] == "4"
    assert (row["events_held"], row["peak_backlog"], row["failed_in_drain"]) == ("5", "5", "3")
    assert row["drain_seconds"] not in ("", "draining")
    page = client.get(REPORT).get_data(as_text=True)
    assert "<td>admin@example.com</td>" in page and "are those of" not in page


def test_client_scoped_auditor_reads_only_own_clients_figures_and_people(app, make_user):
    """Issue 17.5: a user of Acme with audit:view (no instance admin) sees Acme's figures only,
    and no instance admin of another client by name, on the page, in the CSV and the menu."""
    two_clients_window(app, make_user)
    auditor = app.test_client()
    login(auditor, "auditor@acme.example")
    (row,) = report_rows(auditor)
    assert row["started_by"] == "an administrator"  # admin@example.com is not of Acme
    assert row["ended_by"] == "boss@acme.example"  # Acme's own people are named
    assert row["started_via"] == "web" and row["restriction_periods"].count("–") == 1
    assert row["refused_signins"] == "1"
    assert (row["events_held"], row["peak_backlog"], row["failed_in_drain"]) == ("2", "2", "0")
    assert row["drain_seconds"] not in ("", "draining")
    csv_text = auditor.get(REPORT + "?format=csv").get_data(as_text=True)
    page = auditor.get(REPORT).get_data(as_text=True)
    for text in (csv_text, page):
        assert "admin@example.com" not in text and "beta" not in text.lower()
    assert "The figures are those of Acme only" in page
    assert f'href="{REPORT}"' in page  # the menu links the report it may open...
    assert 'href="/settings/maintenance"' not in page  # ...and not the page it may not


def test_dashboard_names_who_started_the_window_only_to_that_client(app, client, make_user):
    """Issue 17.5: the dashboard's "started by" follows the same rule as the report."""
    api_key(app, "Beta")  # creates the client
    make_user("viewer@beta.example", roles=("Viewer",), groups=("Administrators",), client="Beta")
    as_admin(app, "admin@example.com", True, roles=("Administrator", "Viewer"))
    viewer = app.test_client()
    login(viewer, "viewer@beta.example")
    assert "started by an administrator via web" in viewer.get("/").get_data(as_text=True)
    login(client)
    assert "started by admin@example.com via web" in client.get("/").get_data(as_text=True)


def test_failed_in_drain_is_fixed_when_the_drain_ends(app, client):
    """A retry after the drain (the delivery then succeeds) does not change the report."""
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1)
    recorder = Recorder()
    recorder.statuses = [500, 500, 500]  # the drain's three calls fail; the retry succeeds
    with webhook_server(recorder) as (url, _server):
        add_workflow(app, name="hook", action="webhook", url=url, secret=SECRET)
        set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
        events = [{"type": "t", "payload": {"n": n}} for n in range(3)]
        assert post_events(app.test_client(), api_key(app), {"events": events}).status_code == 202
        set_maintenance(app, False, **ADMIN)
        run_tick(app)
        run_tick(app)  # sees the drain ended
        login(client)
        assert report_rows(client)[0]["failed_in_drain"] == "3"
        with app.app_context():
            admin = db.session.scalar(sa.select(User).limit(1))
            delivery = db.session.scalar(sa.select(Delivery).where(Delivery.status == "failed"))
            operations.retry_delivery(admin, delivery)
            db.session.commit()
        run_tick(app)
    assert recorder.count == 4
    (row,) = report_rows(client)
    assert row["failed_in_drain"] == "3"


def test_a_clients_figures_are_fixed_when_the_drain_ends(app, make_user):
    """Issue 17.10, per client: purging the client's events and sign-in records later (as
    retention does) changes neither its figures nor its refused sign-ins in the report."""
    from portal.models import AuditEntry, Event

    two_clients_window(app, make_user)
    auditor = app.test_client()
    login(auditor, "auditor@acme.example")
    (before,) = report_rows(auditor)
    assert (before["events_held"], before["refused_signins"]) == ("2", "1")
    with app.app_context():
        db.session.execute(sa.delete(Delivery))
        db.session.execute(sa.delete(Event))
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.action == "login_refused"))
        db.session.commit()
    (after,) = report_rows(auditor)
    names = ("refused_signins", "events_held", "peak_backlog", "failed_in_drain", "drain_seconds")
    assert [after[name] for name in names] == [before[name] for name in names]


def test_pages_poll_as_seldom_as_rule_13_allows_with_room_for_the_network(client):
    """A page asks every POLL_SECONDS (the page says how often) and may get an answer
    CACHE_SECONDS old: together at most 4.6 s, so a change reaches an open page within 5 s."""
    page = client.get("/auth/login").get_data(as_text=True)
    assert f'data-live-seconds="{live.POLL_SECONDS}"' in page
    assert round(live.POLL_SECONDS + live.CACHE_SECONDS, 3) <= 4.6
    assert live.POLL_SECONDS >= 4  # each poll is a request: no more often than the rule needs
