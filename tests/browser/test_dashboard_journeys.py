"""The dashboard in a real browser: counters refresh themselves from the stats JSON."""

from datetime import timedelta

import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.web.test_dashboard import add_events, set_lease

pytestmark = pytest.mark.browser


def test_counters_and_processor_state_update_in_place(app, live_url, browser):
    sync_api = pytest.importorskip("playwright.sync_api")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/auth/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    queued = page.locator('[data-counter="queued"][data-client="Default"]')
    sync_api.expect(queued).to_have_text("0")
    sync_api.expect(page.locator("#processor-state")).to_have_text("No active processor")

    add_events(app, "Default", ("queued", None), ("queued", None), type_="door.opened")
    set_lease(app, timedelta(minutes=5))

    # no reload: the page's script fetches the stats JSON and updates in place
    sync_api.expect(queued).to_have_text("2", timeout=15_000)
    sync_api.expect(page.locator("#processor-state")).to_have_text("Running")
    sync_api.expect(page.locator("#latest-events tbody")).to_contain_text("door.opened")
    assert errors == []
