"""The maintenance page in a real browser: the live preview and lockout protection."""

import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.maintenance_helpers import state_dict

pytestmark = pytest.mark.browser


@pytest.fixture()
def page(browser, live_url):
    page = browser.new_page(base_url=live_url)
    page.goto("/auth/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_url}/")
    return page


def test_preview_follows_the_selection_and_lockout_is_explained(app, page):
    page.goto("/settings/maintenance")
    preview = page.locator("#who-can-sign-in")
    assert "Nobody in your client." in preview.inner_text()
    roles, groups = page.locator("#bypass_roles-fieldset"), page.locator("#bypass_groups-fieldset")
    roles.get_by_label("Administrator", exact=True).check()
    groups.get_by_label("Administrators", exact=True).check()
    page.locator("#preview-own-users").wait_for()  # refreshed without a page load
    assert ADMIN_EMAIL in preview.inner_text()

    roles.get_by_label("Administrator", exact=True).uncheck()
    roles.get_by_label("Viewer", exact=True).check()
    page.get_by_label("Maintenance mode", exact=True).check()
    page.get_by_role("button", name="Review changes").click()
    assert "you would lock yourself out" in page.locator("#lockout-error").inner_text()
    assert state_dict(app)["enabled"] is False

    roles.get_by_label("Administrator", exact=True).check()
    page.get_by_label("Maintenance message").fill("Back soon.\nReally.")
    page.get_by_role("button", name="Review changes").click()
    page.get_by_role("button", name="Confirm and apply").click()
    assert "Maintenance settings saved" in page.content()
    assert page.locator("#maintenance-banner .message").inner_text() == "Back soon.\nReally."
    assert state_dict(app)["enabled"] is True
