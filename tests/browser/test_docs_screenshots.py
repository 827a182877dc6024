"""The documentation's screenshots, taken from the real pages so they never go stale.

One server with scripted data: a finished maintenance window with its history, events that were
processed before the current window and events held by it, and maintenance on with a message
and the event-processor restriction. An admin who may bypass signs in; each page is checked for
what the docs say it shows, then saved at 1280 px into ``docs/screenshots/`` (the docs and the
README embed these files; commit them when a page changed).
"""

import time
from collections.abc import Iterator

import pytest
import requests

from tests.browser.conftest import OPEN_PAGES
from tests.browser.pages import script_window, sign_in
from tests.live import ROOT, LiveServer, flask, post_events, prepare_db, serving

pytestmark = pytest.mark.browser

SHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
MESSAGE = "Upgrading the gateway database. Back by 19:00 UTC; the on-call team keeps working."
ADMINS = ("--bypass-role", "Administrator", "--bypass-group", "Administrators")
TYPES = ["door.opened", "door.closed", "badge.scanned", "sensor.reading"]


def events(prefix: str, count: int) -> list[dict]:
    return [
        {
            "type": TYPES[n % len(TYPES)],
            "payload": {"door": n % 7, "site": "north"},
            "source_id": f"{prefix}-{n:04d}",
        }
        for n in range(count)
    ]


def wait_processed(server: LiveServer, event_id: int, timeout: float = 30.0) -> None:
    """Wait until the in-process processor has finished ``event_id``."""
    url = f"{server.url}/api/v1/events/{event_id}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(url, headers={"X-API-Key": server.api_key}, timeout=10)
        if answer.json()["status"] != "queued":
            return
        time.sleep(0.2)
    raise AssertionError(f"event {event_id} still queued after {timeout}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("docshots")
    env = prepare_db(folder / "portal.db")
    flask(env, "clients", "create", "Acme Logistics")
    flask(env, "maintenance", "enable", "--restrict-events", *ADMINS)
    flask(env, "maintenance", "disable")
    script_window(folder / "portal.db")  # window 1: finished, with its chart
    with serving(env, folder) as live:
        accepted = post_events(live.url, live.api_key, events("before", 14))
        wait_processed(live, accepted["event_ids"][-1])
        flask(env, "maintenance", "enable", "--message", MESSAGE, "--restrict-events", *ADMINS)
        held = post_events(live.url, live.api_key, events("during", 6))
        assert held["processing"] == "paused"
        yield live


@pytest.fixture(scope="module")
def admin(browser, server):
    """A signed-in admin (a bypass user) at 1280 px."""
    context = browser.new_context(base_url=server.url, viewport=VIEWPORT)
    page = context.new_page()
    OPEN_PAGES.append(page)
    sign_in(page)
    yield page
    context.close()


def save(page, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def test_login_page_with_the_maintenance_message(browser, server):
    context = browser.new_context(base_url=server.url, viewport=VIEWPORT)
    page = context.new_page()
    OPEN_PAGES.append(page)
    page.goto("/auth/login")
    assert MESSAGE in page.locator("#login-maintenance-message").inner_text()
    save(page, "login-maintenance", full_page=False)
    context.close()


def test_dashboard(admin):
    admin.goto("/")
    assert MESSAGE in admin.locator("#maintenance-banner").inner_text()
    assert "held" in admin.locator("#window-held").inner_text()
    assert admin.locator("#dashboard-history svg").count() == 1
    save(admin, "dashboard")
    save(admin, "dashboard-top", full_page=False)  # the README's picture: the first screen


def test_maintenance_settings_form(admin):
    admin.goto("/settings/maintenance")
    assert admin.locator("[name=message]").input_value() == MESSAGE
    assert admin.locator("[name=enabled]").is_checked()
    save(admin, "maintenance-form")


def test_window_page(admin):
    admin.goto("/settings/maintenance/windows/1")
    assert admin.locator("#window-chart svg").count() == 1
    assert "peaked at 25" in admin.locator("#window-chart-desc").text_content()
    save(admin, "window-page")


def test_events_page(admin):
    admin.goto("/events")
    rows = admin.locator("main table tbody tr")
    assert rows.count() == 20
    assert "held" in admin.locator("main table").inner_text().lower()
    save(admin, "events")
