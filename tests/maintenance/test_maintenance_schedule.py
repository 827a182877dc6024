"""Scheduled start with advance notice (SPEC §3 rule 12): CLI, page, API, banner, the start
applied by itself exactly once, and the cancelled unsafe start."""

import json
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.maintenance.schedule import CANCELLED, STARTED, UNSAFE, start_if_due
from portal.models import AccessGroup, AuditEntry, MaintenanceWindow, Role
from tests.conftest import login, post_form
from tests.events_support import api_key, run_tick
from tests.maintenance_helpers import state_dict

URL = "/settings/maintenance"


def status(runner) -> dict:
    result = runner.invoke(args=["maintenance", "status"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def later(minutes: float) -> str:
    return f"{utc_now() + timedelta(minutes=minutes):%Y-%m-%dT%H:%M}"


def force_due(app, minutes_ago: float = 1) -> None:
    """Move a pending start into the past, as the clock would (no validation on the way)."""
    with app.app_context():
        state = get_or_create_state()
        state.scheduled_start = utc_now() - timedelta(minutes=minutes_ago)
        db.session.commit()


def scheduler_audit(app) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.actor == "scheduler").order_by(AuditEntry.id)
        ).all()
        db.session.expunge_all()
        return entries


ADMIN_BYPASS = ["--bypass-role", "Administrator", "--bypass-group", "Administrators"]


def test_cli_schedules_and_status_reports_it(runner):
    assert status(runner)["scheduled_start"] is None
    assert status(runner)["notice_minutes"] == 30
    result = runner.invoke(
        args=["maintenance", "schedule", "--at", "2099-01-01T00:00Z", *ADMIN_BYPASS]
    )
    assert result.exit_code != 0 and "more than a year ahead" in result.output
    at = later(120)
    result = runner.invoke(
        args=[
            "maintenance",
            "schedule",
            "--at",
            at + "Z",
            "--notice-minutes",
            "45",
            "--message",
            "Upgrade tonight",
            "--restrict-events",
            *ADMIN_BYPASS,
        ]
    )
    assert result.exit_code == 0, result.output
    state = status(runner)
    assert state["scheduled_start"] == at + ":00Z"
    assert state["notice_minutes"] == 45
    assert state["enabled"] is False and state["restrict_event_processor"] is True
    assert state["message"] == "Upgrade tonight"
    result = runner.invoke(args=["maintenance", "unschedule"])
    assert result.exit_code == 0, result.output
    assert status(runner)["scheduled_start"] is None


@pytest.mark.parametrize(
    "args, reason",
    [
        (["schedule", "--at", "2020-01-01T00:00Z"], "in the past"),
        (["schedule", "--at", "tomorrow at six"], "must look like"),
        (["schedule", "--at", "2026-13-45T99:00Z"], "not a valid date"),
        (["schedule", "--at", "0001-01-01T00:00+01:00"], "not a valid date"),
        (["schedule", "--at", "FUTURE", "--notice-minutes", "-5"], "notice period"),
        (["schedule", "--at", "FUTURE", "--notice-minutes", "99999999"], "notice period"),
        (["schedule", "--at", "FUTURE", "--bypass-role", "Nope"], "Nope"),
        (["unschedule"], "No start of maintenance mode is scheduled"),
    ],
)
def test_cli_bad_input_is_a_one_line_error_and_changes_nothing(runner, app, args, reason):
    before = status(runner)
    args = [later(90) if arg == "FUTURE" else arg for arg in args]
    result = runner.invoke(args=["maintenance", *args])
    assert result.exit_code != 0
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert status(runner) == before


def test_cli_refuses_to_schedule_while_maintenance_is_on(runner):
    assert runner.invoke(args=["maintenance", "enable", *ADMIN_BYPASS]).exit_code == 0
    before = status(runner)
    result = runner.invoke(args=["maintenance", "schedule", "--at", later(60)])
    assert result.exit_code != 0 and "already on" in result.output
    assert status(runner) == before


def test_api_reports_scheduled_start_to_every_caller(app, client, runner):
    key = api_key(app)
    assert (
        client.get("/api/v1/maintenance", headers={"X-API-Key": key}).json["scheduled_start"]
        is None
    )
    at = later(60)
    runner.invoke(args=["maintenance", "schedule", "--at", at, *ADMIN_BYPASS])
    public = client.get("/api/v1/maintenance", headers={"X-API-Key": key}).json
    assert public["scheduled_start"] == at + ":00Z"
    assert "changed_by" not in public and "bypass_roles" not in public


def ids(app, model, *names) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(sa.select(model).where(model.name.in_(names)))
        return [str(row.id) for row in rows]


def schedule_form(
    app, *, at: str, notice="30", roles=("Administrator",), groups=("Administrators",)
):
    return {
        "message": "Planned upgrade",
        "bypass_roles": ids(app, Role, *roles),
        "bypass_groups": ids(app, AccessGroup, *groups),
        "scheduled_start": at,
        "notice_minutes": notice,
        "submit": "Save",
    }


def test_page_schedules_shows_it_and_cancels_it(app, admin_client):
    at = later(200)
    response = post_form(admin_client, URL, schedule_form(app, at=at, notice="20"))
    assert response.status_code == 302
    state = state_dict(app)
    assert state["scheduled_start"] == at + ":00Z" and state["notice_minutes"] == 20
    assert state["enabled"] is False
    page = admin_client.get(URL).get_data(as_text=True)
    assert f'value="{at}"' in page
    assert "Cancel the scheduled start" in page
    response = post_form(admin_client, URL, {**schedule_form(app, at=at), "unschedule": "1"})
    assert response.status_code == 302
    assert state_dict(app)["scheduled_start"] is None
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.module == "maintenance")
        ).all()
    assert actions == ["schedule", "unschedule"]


@pytest.mark.parametrize(
    "at, notice, error",
    [
        ("2020-01-01T10:00", "30", "in the past"),
        ("next tuesday", "30", "must look like"),
        ("2026-02-30T10:00", "30", "not a valid date"),
        ("FAR", "30", "more than a year ahead"),
        ("SOON", "-1", "notice period"),
        ("SOON", "1000000000", "notice period"),
        ("SOON", "lots", "Not a valid integer"),
    ],
)
def test_page_bad_schedule_re_renders_with_an_error(app, admin_client, at, notice, error):
    before = state_dict(app)
    at = {"FAR": later(60 * 24 * 400), "SOON": later(60)}.get(at, at)
    response = post_form(admin_client, URL, schedule_form(app, at=at, notice=notice))
    assert response.status_code == 200
    assert error in response.get_data(as_text=True)
    assert state_dict(app) == before


def test_page_refuses_scheduling_while_on_and_cancelling_nothing(app, admin_client, runner):
    page_form = schedule_form(app, at="")
    response = post_form(admin_client, URL, {**page_form, "unschedule": "1"})
    assert response.status_code == 200
    assert "No start of maintenance mode is scheduled" in response.get_data(as_text=True)
    runner.invoke(args=["maintenance", "enable", *ADMIN_BYPASS])
    before = state_dict(app)
    response = post_form(admin_client, URL, schedule_form(app, at=later(60)))
    assert response.status_code == 200
    assert "already on" in response.get_data(as_text=True)
    assert state_dict(app) == before


def test_scheduling_applies_lockout_protection(app, admin_client):
    response = post_form(admin_client, URL, schedule_form(app, at=later(60), roles=("Viewer",)))
    assert response.status_code == 200
    assert 'id="lockout-error"' in response.get_data(as_text=True)
    assert state_dict(app)["scheduled_start"] is None


def test_advance_banner_from_the_notice_on_login_page_and_every_page(app, client, runner):
    runner.invoke(
        args=[
            "maintenance",
            "schedule",
            "--at",
            later(120),
            "--notice-minutes",
            "30",
            "--message",
            "Back at <six>",
            *ADMIN_BYPASS,
        ]
    )
    assert 'id="maintenance-notice"' not in client.get("/auth/login").get_data(as_text=True)
    with app.app_context():  # the notice period begins
        state = get_or_create_state()
        state.scheduled_start = utc_now() + timedelta(minutes=10)
        db.session.commit()
        start = f"{state.scheduled_start:%Y-%m-%d %H:%M} UTC"
    page = client.get("/auth/login").get_data(as_text=True)
    assert 'id="maintenance-notice"' in page and start in page
    assert "Back at &lt;six&gt;" in page
    login(client)
    for url in ("/", URL, "/settings/audit", "/settings/maintenance/windows"):
        assert 'id="maintenance-notice"' in client.get(url).get_data(as_text=True), url


def test_due_start_applies_on_the_next_request_without_a_processor(app, client, runner):
    runner.invoke(
        args=["maintenance", "schedule", "--at", later(60), "--restrict-events", *ADMIN_BYPASS]
    )
    force_due(app)
    page = client.get("/auth/login").get_data(as_text=True)
    assert 'id="login-maintenance-message"' in page
    state = state_dict(app)
    assert state["enabled"] is True and state["scheduled_start"] is None
    assert state["changed_by"] == "scheduler"
    entries = scheduler_audit(app)
    assert [entry.action for entry in entries] == ["enable"]
    with app.app_context():
        window = db.session.scalar(sa.select(MaintenanceWindow))
        assert (window.started_by, window.started_via) == ("scheduler", "scheduler")
        assert len(window.periods) == 1  # restricted from the start


def test_due_start_applies_in_the_processor_tick(app, runner):
    runner.invoke(args=["maintenance", "schedule", "--at", later(60), *ADMIN_BYPASS])
    force_due(app)
    run_tick(app)
    assert state_dict(app)["enabled"] is True
    assert [entry.action for entry in scheduler_audit(app)] == ["enable"]


def test_unsafe_start_is_cancelled_audited_and_shown_to_admins(app, client, runner, make_user):
    runner.invoke(
        args=[
            "maintenance",
            "schedule",
            "--at",
            later(60),
            "--bypass-role",
            "Viewer",
            "--bypass-group",
            "Administrators",
        ]
    )
    force_due(app)
    with app.app_context():
        assert start_if_due() == CANCELLED
        assert start_if_due() is None  # nothing pending any more
    state = state_dict(app)
    assert state["enabled"] is False and state["scheduled_start"] is None
    entries = scheduler_audit(app)
    assert [entry.action for entry in entries] == ["schedule_cancelled"]
    assert "no active user with the client_settings:manage permission" in entries[0].description
    login(client)
    page = client.get("/").get_data(as_text=True)
    assert 'id="schedule-cancelled"' in page and UNSAFE in page.replace("&#39;", "'")
    make_user("viewer@example.com", roles=("Viewer",), groups=("Administrators",))
    other = app.test_client()
    login(other, "viewer@example.com")
    assert 'id="schedule-cancelled"' not in other.get("/").get_data(as_text=True)


def test_inactive_admins_do_not_make_a_start_safe(app, runner, make_user):
    make_user("ops@example.com", roles=("Operator",), groups=("Administrators",))
    runner.invoke(
        args=[
            "maintenance",
            "schedule",
            "--at",
            later(60),
            "--bypass-role",
            "Operator",
            "--bypass-group",
            "Administrators",
        ]
    )
    force_due(app)
    with app.app_context():
        assert start_if_due() == CANCELLED


RACER = """
import sys, time
from tests.conftest import make_app
from portal.maintenance.schedule import start_if_due
app = make_app(sys.argv[1], sys.argv[2])
go = float(sys.argv[3])
with app.app_context():
    time.sleep(max(0.0, go - time.time()))
    print(start_if_due())
"""


@pytest.mark.slow  # starts a subprocess
def test_exactly_one_process_records_the_start_when_several_race(app, db_path, tmp_path, runner):
    runner.invoke(args=["maintenance", "schedule", "--at", later(60), *ADMIN_BYPASS])
    force_due(app)
    with app.app_context():
        db.engine.dispose()
    go = time.time() + 3.0
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(db_path), str(tmp_path / f"i{n}"), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    outcomes = sorted(racer.communicate(timeout=60)[0].strip() for racer in racers)
    assert outcomes == ["None", "None", "None", STARTED]
    assert [entry.action for entry in scheduler_audit(app)] == ["enable"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MaintenanceWindow.id))) == 1


def test_migration_round_trip_keeps_the_saved_bypass_selection(app, runner):
    """Dropping the schedule columns must not copy maintenance_state (a copy would cascade)."""
    assert runner.invoke(args=["maintenance", "enable", *ADMIN_BYPASS]).exit_code == 0
    for command in (["db", "downgrade", "0005"], ["db", "upgrade"]):  # through 0006 and back
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    with app.app_context():
        db.session.remove()
    state = status(runner)
    assert state["bypass_roles"] == ["Administrator"]
    assert state["bypass_groups"] == ["Administrators"]
    assert state["notice_minutes"] == 30 and state["scheduled_start"] is None
