"""The admin journey in a real browser: a role, a group and a user made in the forms become
the maintenance bypass, and only that user (and the admin) can still sign in."""

import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD

pytestmark = pytest.mark.browser
NIGHT_PASSWORD = "night-shift-password"


def sign_in(browser, live_url: str, email: str, password: str):
    page = browser.new_context(base_url=live_url).new_page()
    page.goto("/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    return page


def open_settings_page(page, name: str) -> None:
    """Open a page of the main menu's Settings group."""
    page.locator("nav[aria-label='Main'] summary", has_text="Settings").click()
    page.locator("nav[aria-label='Main']").get_by_role("link", name=name, exact=True).click()


def test_admin_builds_the_bypass_from_new_role_group_and_user(browser, live_url):
    admin = sign_in(browser, live_url, ADMIN_EMAIL, PASSWORD)
    admin.wait_for_url(f"{live_url}/")

    open_settings_page(admin, "Roles")
    admin.get_by_role("link", name="New role").click()
    admin.get_by_label("Name").fill("On call")
    admin.get_by_label("dashboard:view", exact=False).check()
    admin.get_by_role("button", name="Save").click()
    assert "Role On call created." in admin.content()

    open_settings_page(admin, "Access groups")
    admin.get_by_role("link", name="New access group").click()
    admin.get_by_label("Name").fill("Night shift")
    admin.get_by_label("Description").fill("Keeps the lights on")
    admin.get_by_role("button", name="Save").click()
    assert "Access group Night shift created." in admin.content()

    open_settings_page(admin, "Users")
    admin.get_by_role("link", name="New user").click()
    admin.get_by_label("Email").fill("night@example.com")
    admin.get_by_label("Password", exact=True).fill("short")
    admin.get_by_label("Confirm password").fill("short")
    admin.get_by_role("group", name="Roles").get_by_label("On call").check()
    admin.get_by_role("group", name="Access groups").get_by_label("Night shift").check()
    admin.get_by_role("button", name="Create user").click()
    assert "Passwords need at least 8 characters." in admin.locator(".has-error").inner_text()
    admin.get_by_label("Password", exact=True).fill(NIGHT_PASSWORD)
    admin.get_by_label("Confirm password").fill(NIGHT_PASSWORD)
    admin.get_by_role("button", name="Create user").click()
    assert "night@example.com" in admin.locator("#users").inner_text()

    open_settings_page(admin, "Maintenance Mode")
    for fieldset, names in (
        ("#bypass_roles-fieldset", ("On call", "Administrator")),
        ("#bypass_groups-fieldset", ("Night shift", "Administrators")),
    ):
        for name in names:
            admin.locator(fieldset).get_by_label(name, exact=True).check()
    admin.get_by_label("Maintenance mode", exact=True).check()
    admin.get_by_role("button", name="Review changes").click()
    admin.get_by_role("button", name="Confirm and apply").click()
    preview = admin.locator("#who-can-sign-in").inner_text()
    assert "night@example.com" in preview and ADMIN_EMAIL in preview

    night = sign_in(browser, live_url, "night@example.com", NIGHT_PASSWORD)
    night.wait_for_url(f"{live_url}/")
    assert "night@example.com" in night.locator("#me-email").inner_text()
