"""Times a person reads (issue 19): every page shows times in the viewer's zone with a relative
form and the exact UTC time on hover and focus; typed times are read in that zone; the account
page sets the zone (default: the browser's, UTC until known); a maintenance window may carry
an expected end that the banners and the login screen tell."""

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal import audit
from portal.core import timefmt
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import AuditEntry, Event, User
from tests.conftest import ADMIN_EMAIL, login, post_form
from tests.events_support import api_key, post_events
from tests.maintenance.test_maintenance_schedule import schedule_form
from tests.maintenance_helpers import set_maintenance, state_dict
from tests.token_helpers import bearer, make_token

NY, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
ADMINS = {"roles": ("Administrator",), "groups": ("Administrators",)}
TIME_RE = re.compile(r'<time datetime="([^"]+)" title="([^"]+)" tabindex="0">([^<]+)')


def in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=UTC).astimezone(zone)


def clock(value: datetime, zone: ZoneInfo, now: datetime | None = None) -> str:
    """The short form a test expects: the time alone while it is today in ``zone``."""
    shown, today = in_zone(value, zone), in_zone(now or utc_now(), zone)
    shape = "%H:%M" if shown.date() == today.date() else "%Y-%m-%d %H:%M"
    return f"{shown:{shape}} {shown.tzname()}"


def browser_in(client, zone: str) -> None:
    """Act as a browser whose static/timezone.js reported ``zone``."""
    client.set_cookie(timefmt.COOKIE, zone)


def user_zone(app, email: str = ADMIN_EMAIL) -> str | None:
    with app.app_context():
        return db.session.scalar(sa.select(User.time_zone).where(User.email == email))


# --- the rule: one filter -------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, words",
    [
        (10, "in less than a minute"),
        (-10, "just now"),
        (240, "in 4 minutes"),
        (-60, "1 minute ago"),
        (-3 * 3600, "3 hours ago"),
        (3 * 3600 + 1200, "in 3 hours"),
        (-2 * 86400, "2 days ago"),
        (45 * 86400, "in 1 month"),
        (-400 * 86400, "1 year ago"),
    ],
)
def test_the_relative_form(seconds, words):
    now = datetime(2026, 12, 7, 0, 40)
    assert timefmt.relative(now + timedelta(seconds=seconds), now) == words


def test_a_time_shows_in_the_zone_with_its_relative_form_and_the_exact_utc_time_in_its_title():
    now = datetime(2026, 12, 7, 0, 40)
    shown = timefmt.moment(datetime(2026, 12, 7, 0, 44), now=now, zone=NY)
    assert shown == (
        '<time datetime="2026-12-07T00:44:00Z" title="2026-12-07 00:44 UTC" tabindex="0">'
        '2026-12-06 19:44 EST <span class="relative">(in 4 minutes)</span></time>'
    )
    tokyo = timefmt.moment(datetime(2026, 12, 6, 21, 40, 5), seconds=True, now=now, zone=TOKYO)
    assert 'title="2026-12-06 21:40:05 UTC"' in tokyo and ">2026-12-07 06:40:05 JST " in tokyo
    assert "(3 hours ago)" in tokyo
    # the short form leaves out the date while it is today in the zone, not otherwise
    assert ">23:00 EST <" in timefmt.moment(datetime(2026, 12, 7, 4), short=True, now=now, zone=NY)
    tomorrow = timefmt.moment(datetime(2026, 12, 8, 4), short=True, now=now, zone=NY)
    assert ">2026-12-07 23:00 EST <" in tomorrow
    assert timefmt.moment(None) == ""


def test_typed_times_are_read_in_the_viewers_zone_and_stored_as_utc():
    assert timefmt.parse_local("2026-12-07T18:00", NY) == (datetime(2026, 12, 7, 23, 0), False)
    assert timefmt.parse_local("2026-12-07T18:00", TOKYO) == (datetime(2026, 12, 7, 9, 0), False)
    assert timefmt.parse_local("2026-07-07 18:00", NY)[0] == datetime(2026, 7, 7, 22, 0)  # EDT
    assert timefmt.parse_local("2026-12-07T18:00Z", TOKYO)[0] == datetime(2026, 12, 7, 18, 0)
    assert timefmt.parse_local("2026-12-07T18:00+01:00", NY)[0] == datetime(2026, 12, 7, 17, 0)
    assert timefmt.parse_local("2026-12-07", TOKYO, dates=True) == (datetime(2026, 12, 6, 15), True)
    assert timefmt.next_day(datetime(2026, 3, 8, 5, 0), NY) == datetime(2026, 3, 9, 4, 0)  # DST
    for bad in ("2026-12-07", "tomorrow", "2026-02-30T10:00", "0001-01-01T00:00+01:00"):
        with pytest.raises(timefmt.MomentError):
            timefmt.parse_local(bad, NY)


# --- the account setting ---------------------------------------------------------------


def test_the_account_page_sets_the_time_zone_and_keeps_the_email_setting(app, admin_client):
    page = admin_client.get("/account").get_data(as_text=True)
    assert 'name="time_zone"' in page and 'list="time-zones"' in page
    assert '<option value="Asia/Tokyo">' in page and 'name="maintenance_emails"' in page
    assert "UTC (your browser’s zone is not known yet)" in page
    form = {"time_zone": "asia/tokyo", "maintenance_emails": "y"}
    assert post_form(admin_client, "/account", form).status_code == 302
    assert user_zone(app) == "Asia/Tokyo"  # the name as IANA spells it
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.after == {"time_zone": "Asia/Tokyo"} and entry.before == {"time_zone": None}
    page = admin_client.get("/account").get_data(as_text=True)
    assert "Asia/Tokyo (your setting)" in page and 'value="Asia/Tokyo"' in page
    assert 'data-time-zone="Asia/Tokyo"' in page and " JST" in admin_client.get("/").text
    # the email setting still saves on its own; empty zone: the browser's again
    assert post_form(admin_client, "/account", {"time_zone": ""}).status_code == 302
    assert user_zone(app) is None
    with app.app_context():
        assert (
            db.session.scalar(sa.select(User).where(User.email == ADMIN_EMAIL)).maintenance_emails
            is False
        )


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "x" * 300, "UTC\x00", "+05"]
)
def test_a_bad_zone_name_re_renders_the_form_with_a_message(app, admin_client, name):
    response = post_form(admin_client, "/account", {"time_zone": name, "maintenance_emails": "y"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "is not a time zone the portal knows" in page and 'class="error"' in page
    assert user_zone(app) is None


def test_the_browsers_zone_is_the_default_and_the_account_setting_wins(app, admin_client):
    set_maintenance(app, True, **ADMINS)
    browser_in(admin_client, "America/New_York")
    page = admin_client.get("/account").get_data(as_text=True)
    assert "America/New_York (your browser’s zone)" in page
    assert 'placeholder="America/New_York"' in page
    banner = admin_client.get("/settings/maintenance").get_data(as_text=True)
    since = state_dict(app)["enabled_since"]
    assert re.search(r"since <time[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d EST", banner), since
    browser_in(admin_client, "Nowhere/Atlantis")  # not a zone: UTC, no error
    assert 'data-time-zone="UTC"' in admin_client.get("/account").get_data(as_text=True)
    browser_in(admin_client, "America/New_York")
    post_form(admin_client, "/account", {"time_zone": "Asia/Tokyo", "maintenance_emails": "y"})
    assert 'data-time-zone="Asia/Tokyo"' in admin_client.get("/").get_data(as_text=True)


# --- one date-time input -----------------------------------------------------------------


def test_the_schedule_reads_the_start_in_the_viewers_zone_and_shows_it_back(app, admin_client):
    browser_in(admin_client, "Asia/Tokyo")
    page = admin_client.get("/settings/maintenance").get_data(as_text=True)
    example = re.search(r"In your time zone \(Asia/Tokyo\), e\.g\. ([\dT:-]+)\.", page).group(1)
    assert timefmt.parse_local(example, TOKYO)[0] > utc_now()  # the example is in the future
    assert f'placeholder="{example}"' in page and 'type="datetime-local"' in page
    start = (utc_now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    typed = f"{in_zone(start, TOKYO):%Y-%m-%dT%H:%M}"
    response = post_form(admin_client, "/settings/maintenance", schedule_form(app, at=typed))
    assert response.status_code == 302
    assert state_dict(app)["scheduled_start"] == f"{start:%Y-%m-%dT%H:%M:%S}Z"
    page = admin_client.get("/settings/maintenance").get_data(as_text=True)
    assert (
        f'name="scheduled_start" placeholder="{example}" type="datetime-local" value="{typed}"'
        in page
    )
    status = page.split('id="status-scheduled">', 1)[1]
    assert f"{in_zone(start, TOKYO):%Y-%m-%d %H:%M} JST" in status
    assert "(in 5 hours)" in status


def test_the_audit_filter_takes_a_time_in_the_viewers_zone(app, admin_client):
    with app.app_context():
        for hour in (13, 14, 15):  # UTC: 08:00, 09:00, 10:00 in New York
            entry = audit.record("cli", "roles", "update", f"At {hour} UTC")
            entry.created_at = datetime(2024, 3, 5, hour, 0, 30)
        db.session.commit()
    browser_in(admin_client, "America/New_York")
    page = admin_client.get("/settings/audit?date_from=2024-03-05T09:00&date_to=2024-03-05T09:00")
    table = page.get_data(as_text=True).split('<table id="audit">', 1)[1]
    assert "At 14 UTC" in table and "At 13 UTC" not in table and "At 15 UTC" not in table
    assert 'value="2024-03-05T09:00"' in page.get_data(as_text=True)
    assert "2024-03-05 09:00:30 EST" in table and 'title="2024-03-05 14:00:30 UTC"' in table
    whole_day = admin_client.get("/settings/audit?date_from=2024-03-05&date_to=2024-03-05")
    assert 'value="2024-03-05T23:59"' in whole_day.get_data(as_text=True)  # the day, inclusive
    assert all(f"At {h} UTC" in whole_day.get_data(as_text=True) for h in (13, 14, 15))


def test_the_events_filter_takes_times_in_the_viewers_zone(app, client, admin_client):
    assert (
        post_events(client, api_key(app), {"events": [{"type": "a"}, {"type": "b"}]}).status_code
        == 202
    )
    with app.app_context():
        for event, at in zip(
            db.session.scalars(sa.select(Event).order_by(Event.id)),
            (datetime(2026, 1, 2, 3, 10), datetime(2026, 1, 2, 3, 50)),
            strict=True,
        ):
            event.received_at = at
        db.session.commit()
    browser_in(admin_client, "Asia/Tokyo")  # 03:30 UTC is 12:30 in Tokyo
    page = admin_client.get("/events?since=2026-01-02T12:30").get_data(as_text=True)
    table = page.split("<tbody>", 1)[1]
    assert "2026-01-02 12:50:00 JST" in table and "12:10:00" not in table
    assert 'name="since" placeholder="' in page and 'value="2026-01-02T12:30"' in page
    page = admin_client.get("/events?until=2026-01-02T03:30Z").get_data(as_text=True)
    assert "12:10:00 JST" in page.split("<tbody>", 1)[1] and 'value="2026-01-02T12:30"' in page


# --- expected end ---------------------------------------------------------------------


def maintenance_form(app, **fields) -> dict:
    return {**schedule_form(app, at=""), "enabled": "y", **fields}


def test_expected_end_is_saved_from_the_viewers_zone_and_told_on_banner_and_login(
    app, admin_client
):
    browser_in(admin_client, "America/New_York")
    end = (utc_now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    typed = f"{in_zone(end, NY):%Y-%m-%dT%H:%M}"
    response = post_form(
        admin_client, "/settings/maintenance", maintenance_form(app, expected_end=typed)
    )
    assert response.status_code == 302
    assert state_dict(app)["expected_end"] == f"{end:%Y-%m-%dT%H:%M:%S}Z"
    page = admin_client.get("/").get_data(as_text=True)
    banner = page.split('id="maintenance-banner"', 1)[1].split("</strong>", 1)[0]
    expected = '<span id="maintenance-expected-end">expected until <time datetime='
    assert f'Maintenance mode is on, {expected}"{end:%Y-%m-%dT%H:%M:%S}Z"' in banner
    assert f'>{clock(end, NY)} <span class="relative">(in 2 hours)</span>' in banner
    client = app.test_client()  # someone else, signed out, in another zone
    browser_in(client, "Asia/Tokyo")
    login_page = client.get("/auth/login").get_data(as_text=True)
    told = login_page.split('id="login-expected-end">', 1)[1].split("</span></time>", 1)[0]
    assert told.startswith("expected until <time") and f">{clock(end, TOKYO)} " in told
    assert f'title="{end:%Y-%m-%d %H:%M} UTC"' in told
    # the API tells it in UTC, to everyone who may read the state
    key = {"X-API-Key": api_key(app)}
    assert (
        client.get("/api/v1/maintenance", headers=key).json["expected_end"]
        == f"{end:%Y-%m-%dT%H:%M:%S}Z"
    )
    # ending stays manual, and the expected end goes with the window
    post_form(
        admin_client, "/settings/maintenance", {**schedule_form(app, at=""), "expected_end": typed}
    )
    assert state_dict(app)["enabled"] is False and state_dict(app)["expected_end"] is None
    assert 'id="login-expected-end"' not in client.get("/auth/login").get_data(as_text=True)


def test_a_scheduled_windows_notice_tells_its_expected_end(app, client):
    start = utc_now() + timedelta(minutes=20)
    end = start + timedelta(hours=1)
    set_maintenance(app, False, scheduled_start=start, expected_end=end, **ADMINS)
    browser_in(client, "Asia/Tokyo")
    notice = client.get("/auth/login").get_data(as_text=True).split('id="maintenance-notice"', 1)[1]
    notice = notice.split("</strong>", 1)[0]
    assert f"{in_zone(start, TOKYO):%Y-%m-%d %H:%M} JST" in notice and "(in 20 minutes)" in notice
    assert f'expected until <time datetime="{end:%Y-%m-%dT%H:%M:%S}Z"' in notice


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"expected_end": "PAST"}, "The expected end is in the past"),
        (
            {"enabled": "", "scheduled_start": "START", "expected_end": "BEFORE"},
            "must be after the scheduled start",
        ),
        (
            {"enabled": "", "expected_end": "FUTURE"},
            "needs maintenance mode on or a scheduled start",
        ),
        ({"expected_end": "soon"}, "must look like"),
    ],
)
def test_a_bad_expected_end_is_an_error_next_to_it(app, admin_client, fields, error):
    browser_in(admin_client, "America/New_York")
    now = utc_now()
    moments = {"PAST": now - timedelta(minutes=5), "START": now + timedelta(hours=3)}
    moments |= {"BEFORE": now + timedelta(hours=2), "FUTURE": now + timedelta(hours=2)}
    typed = {
        k: f"{in_zone(moments[v], NY):%Y-%m-%dT%H:%M}" if v in moments else v
        for k, v in fields.items()
    }
    response = post_form(admin_client, "/settings/maintenance", maintenance_form(app, **typed))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    field = page.split('id="expected_end"', 1)[1].split("</div>", 1)[0]
    assert error in field, field
    assert state_dict(app)["enabled"] is False and state_dict(app)["expected_end"] is None


def test_the_api_and_cli_set_the_expected_end_with_the_same_rules(app, runner):
    end = (utc_now() + timedelta(hours=1)).replace(microsecond=0)
    secret = make_token(app, ADMIN_EMAIL, "maintenance:read", "maintenance:write")
    with app.test_client() as http:
        response = http.patch(
            "/api/v1/maintenance",
            json={"expected_end": "2001-01-01T00:00Z"},
            headers=bearer(secret),
        )
        assert response.status_code == 400 and response.json["details"] == ["expected_end"]
        response = http.patch(
            "/api/v1/maintenance",
            json={
                "enabled": True,
                "bypass_roles": ["Administrator"],
                "bypass_groups": ["Administrators"],
                "expected_end": f"{end:%Y-%m-%dT%H:%M:%S}Z",
            },
            headers=bearer(secret),
        )
        assert response.status_code == 200, response.json
        assert response.json["expected_end"] == f"{end:%Y-%m-%dT%H:%M:%S}Z"
        assert "Expected end: none → " in " ".join(response.json["effect"]["changes"])
    result = runner.invoke(args=["maintenance", "enable", "--expected-end", ""])
    assert result.exit_code == 0, result.output
    status = json.loads(runner.invoke(args=["maintenance", "status"]).output)
    assert status["expected_end"] is None
    later = f"{utc_now() + timedelta(hours=3):%Y-%m-%dT%H:%M}Z"
    assert runner.invoke(args=["maintenance", "enable", "--expected-end", later]).exit_code == 0
    assert state_dict(app)["expected_end"] == later.replace("Z", ":00Z")
    assert runner.invoke(args=["maintenance", "disable"]).exit_code == 0
    assert state_dict(app)["expected_end"] is None


def test_login_shows_no_expected_end_when_none_is_given(app, client):
    set_maintenance(app, True, **ADMINS)
    page = client.get("/auth/login").get_data(as_text=True)
    assert 'id="login-maintenance-message"' in page and "expected until" not in page
    assert login(client).status_code == 302


def test_the_review_step_carries_typed_times_to_the_confirmation_unchanged(app, admin_client):
    browser_in(admin_client, "Asia/Tokyo")
    start = (utc_now() + timedelta(hours=4)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=2)
    typed = {
        "enabled": "",
        "scheduled_start": f"{in_zone(start, TOKYO):%Y-%m-%dT%H:%M}",
        "expected_end": f"{in_zone(end, TOKYO):%Y-%m-%dT%H:%M}",
    }
    fields = {**maintenance_form(app, **typed), "review": "Review changes"}
    page = post_form(admin_client, "/settings/maintenance", fields).get_data(as_text=True)
    assert f"{in_zone(start, TOKYO):%Y-%m-%d %H:%M} JST" in page.split('id="review-scheduled"')[1]
    assert f"Expected end: none → {in_zone(end, TOKYO):%Y-%m-%d %H:%M} JST" in page
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert hidden["scheduled_start"] == f"{start:%Y-%m-%dT%H:%M:%S}Z"
    confirm = {k: v for k, v in hidden.items() if k != "csrf_token"} | {"submit": "Confirm"}
    confirm |= {"bypass_roles": fields["bypass_roles"], "bypass_groups": fields["bypass_groups"]}
    assert post_form(admin_client, "/settings/maintenance", confirm).status_code == 302
    state = state_dict(app)
    assert state["scheduled_start"] == f"{start:%Y-%m-%dT%H:%M:%S}Z"
    assert state["expected_end"] == f"{end:%Y-%m-%dT%H:%M:%S}Z"
