"""The events page in a real browser: filter, open an event, replay it (CSRF form, audited)."""

import pytest

from tests.admin_helpers import audit_entries
from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.web.test_dashboard import add_events

pytestmark = pytest.mark.browser


def test_filter_open_and_replay_an_event(app, live_url, browser):
    sync_api = pytest.importorskip("playwright.sync_api")
    add_events(app, "Default", ("processed", None), type_="door.opened")
    add_events(app, "Default", ("failed", None), type_="alarm.raised")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/auth/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.click("nav >> text=Events")
    rows = page.locator("#events tbody tr")
    sync_api.expect(rows).to_have_count(2)
    page.select_option("select[name=status]", "failed")
    page.click("text=Filter")
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text("alarm.raised")
    rows.first.locator("a").click()
    sync_api.expect(page.locator("h1")).to_contain_text("alarm.raised")
    page.click("text=Replay event")
    sync_api.expect(page.locator("#event-status")).to_have_text("queued")
    sync_api.expect(page.locator("body")).to_contain_text("queued for replay")
    assert [entry.action for entry in audit_entries(app, "events")] == ["replay"]
    assert errors == []
