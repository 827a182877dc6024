"""Times a person reads (issue 19), in Chromium under two browser time zones: the pages show
local times with a relative form and the exact UTC time on hover and focus, the login screen
and the banner tell a maintenance window's expected end, a typed schedule is read in the
browser's zone, and the account page's zone setting wins (and stays clean under axe).
"""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from portal.core.clock import utc_now
from tests.browser.conftest import OPEN_PAGES
from tests.browser.pages import sign_in
from tests.browser.test_accessibility import serious_violations
from tests.live import LiveServer, flask, maintenance_status, prepare_db, serving

pytestmark = pytest.mark.browser

ZONES = ("America/New_York", "Asia/Tokyo")
ADMINS = ("--bypass-role", "Administrator", "--bypass-group", "Administrators")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("timezones")
    env = prepare_db(folder / "portal.db", PROCESSOR_ENABLED="false")
    with serving(env, folder) as live:
        yield live


@pytest.fixture()
def open_in(browser, server):
    """Open pages in a fresh browser context in the given time zone."""
    contexts = []

    def factory(zone: str):
        context = browser.new_context(base_url=server.url, timezone_id=zone)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        OPEN_PAGES.append(page)
        return page

    yield factory
    for context in contexts:
        context.close()


def local(value: datetime, zone: str) -> datetime:
    return value.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))


def clock(value: datetime, zone: str) -> str:
    """The short form: the time alone while it is today in ``zone``."""
    shown, today = local(value, zone), local(utc_now(), zone)
    return f"{shown:{'%H:%M' if shown.date() == today.date() else '%Y-%m-%d %H:%M'}}"


def assert_times_in(page, zone: str) -> int:
    """Every time on the page reads in ``zone`` and has its exact UTC time as its title."""
    times = page.locator("time[datetime]")
    for index in range(times.count()):
        element = times.nth(index)
        at = datetime.fromisoformat(element.get_attribute("datetime").replace("Z", ""))
        shown = local(at, zone)
        text = element.inner_text()
        assert f"{shown:%H:%M}" in text and shown.tzname() in text, (text, zone)
        assert re.search(r"\((in .+|.+ ago|just now)\)$", text) or "relative" not in (
            element.inner_html()
        ), text
        assert element.get_attribute("title").startswith(f"{at:%Y-%m-%d %H:%M}")
        assert element.get_attribute("title").endswith(" UTC")
    return times.count()


@pytest.mark.parametrize("zone", ZONES)
def test_login_and_pages_show_local_times_and_the_expected_end(server, open_in, zone):
    end = (utc_now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    flask(server.env, "maintenance", "enable", *ADMINS, "--expected-end", f"{end:%Y-%m-%dT%H:%M}Z")
    try:
        page = open_in(zone)
        page.goto("/auth/login")  # drawn in UTC, then once more in the browser's zone
        told = page.locator("#login-expected-end")
        expect(told).to_contain_text(f"expected until {clock(end, zone)} {local(end, zone):%Z}")
        expect(told).to_contain_text("(in 3 hours)")
        assert told.locator("time").get_attribute("title") == f"{end:%Y-%m-%d %H:%M} UTC"
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        assert cookies["portal_tz"] == zone
        sign_in(page)
        page.goto("/")
        banner = page.locator("#maintenance-expected-end")
        expect(banner).to_contain_text(f"expected until {clock(end, zone)}")
        since = page.locator("#maintenance-state time")
        expect(since).to_contain_text(re.compile(r"\((just now|\d+ minutes? ago)\)"))
        assert assert_times_in(page, zone) >= 3  # since, expected end, figures as of
        # focus shows the exact UTC time (hover shows the title itself)
        banner.locator("time").focus()
        shown = banner.locator("time").evaluate(
            "el => getComputedStyle(el, '::after').getPropertyValue('content')"
        )
        assert f"{end:%Y-%m-%d %H:%M} UTC" in shown
        page.goto("/settings/audit")
        assert assert_times_in(page, zone) >= 2  # the enable and the sign-in at least
        page.goto("/account/sessions")
        assert assert_times_in(page, zone) >= 1
    finally:
        flask(server.env, "maintenance", "disable")


def test_a_schedule_typed_in_tokyo_is_saved_as_utc(server, open_in):
    zone = "Asia/Tokyo"
    page = open_in(zone)
    page.goto("/auth/login")
    sign_in(page)
    page.goto("/settings/maintenance")
    form = page.locator("#maintenance-form")
    start = (utc_now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=90)
    hint = form.locator("#scheduled_start ~ small.help").inner_text()
    example = re.search(r"e\.g\. (\S+)\.", hint).group(1)
    assert "(Asia/Tokyo)" in hint
    typed_example = datetime.fromisoformat(example).replace(tzinfo=ZoneInfo(zone))
    assert typed_example > datetime.now(UTC)  # the example is in the future
    form.get_by_label("Administrator", exact=True).check()
    form.get_by_label("Administrators", exact=True).check()
    form.locator("[name=scheduled_start]").fill(f"{local(start, zone):%Y-%m-%dT%H:%M}")
    form.locator("[name=expected_end]").fill(f"{local(end, zone):%Y-%m-%dT%H:%M}")
    form.get_by_role("button", name="Review changes").click()
    scheduled = page.locator("#review-scheduled").inner_text()
    assert f"{local(start, zone):%Y-%m-%d %H:%M} JST" in scheduled
    page.get_by_role("button", name="Confirm and apply").click()
    expect(page.locator(".flash-success")).to_contain_text(
        f"start by itself at {local(start, zone):%Y-%m-%d %H:%M} JST"
    )
    try:
        state = maintenance_status(server.env)
        assert state["scheduled_start"] == f"{start:%Y-%m-%dT%H:%M:%S}Z"
        assert state["expected_end"] == f"{end:%Y-%m-%dT%H:%M:%S}Z"
        field = page.locator("#maintenance-form [name=scheduled_start]")
        assert field.input_value() == f"{local(start, zone):%Y-%m-%dT%H:%M}"
        assert field.get_attribute("type") == "datetime-local"
        # the same moment in New York, read by another browser
        other = open_in("America/New_York")
        other.goto("/auth/login")
        sign_in(other)
        other.goto("/settings/maintenance")
        expect(other.locator("#status-scheduled")).to_contain_text(
            f"{local(start, 'America/New_York'):%Y-%m-%d %H:%M} E"
        )
        expect(other.locator("#status-scheduled")).to_contain_text("(in 5 hours)")
    finally:
        flask(server.env, "maintenance", "unschedule")


def test_the_account_zone_wins_over_the_browsers_and_axe_stays_clean(server, open_in):
    page = open_in("America/New_York")
    page.goto("/auth/login")
    sign_in(page)
    page.goto("/account")
    expect(page.locator("#account-time-zone")).to_contain_text("America/New_York")
    field = page.get_by_label("Time zone")
    assert field.get_attribute("placeholder") == "America/New_York"
    field.fill("Mars/Olympus")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#account-form .error")).to_contain_text("not a time zone")
    axe = Axe()
    assert not serious_violations(axe, page)  # with the error shown
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("saved")
    expect(page.locator("#account-time-zone")).to_contain_text("Europe/Berlin (your setting)")
    assert not serious_violations(axe, page)
    page.goto("/settings/audit")
    assert assert_times_in(page, "Europe/Berlin") >= 1
    page.goto("/account")
    page.get_by_label("Time zone").fill("")
    page.get_by_role("button", name="Save").click()
    page.goto("/settings/audit")
    assert assert_times_in(page, "America/New_York") >= 1
