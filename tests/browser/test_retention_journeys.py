"""The dashboard in a real browser shows what retention purged, without a reload."""

import pytest

from portal.operations import retention
from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.events_support import run_tick
from tests.operations.test_retention import _age, _ingest

pytestmark = pytest.mark.browser


def test_purged_counter_and_last_purge_update_in_place(app, live_url, browser):
    sync_api = pytest.importorskip("playwright.sync_api")
    app.config.update(RETENTION_CHECK_SECONDS=0)
    retention._next_look["at"] = 0.0
    ids = _ingest(app, app.test_client(), 4)
    run_tick(app)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/auth/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    purged = page.locator('[data-counter="purged"][data-client="Default"]')
    sync_api.expect(purged).to_have_text("0")
    sync_api.expect(page.locator("[id^=last-purge-]")).to_have_text(
        "Retention has purged nothing yet."
    )

    _age(app, ids, 31)
    assert run_tick(app).purged == 4

    sync_api.expect(purged).to_have_text("4", timeout=15_000)
    sync_api.expect(page.locator("[id^=last-purge-]")).to_contain_text("Retention last purged at")
    assert errors == []
