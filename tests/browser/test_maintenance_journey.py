"""An admin's maintenance window, end to end in a real browser against the real server.

The tests run in order and share one server: the admin builds the team (a role, a group and two
users) through the admin pages, turns maintenance on, the users see what they should, the admin
turns it off, and the dashboard shows held events draining after the restriction is lifted.
"""

import re
import time

import pytest
import requests

from tests.browser.pages import submit_sign_in as sign_in
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser

ROLE, GROUP = "Maintainers", "Night shift"
BYPASS_EMAIL, BLOCKED_EMAIL = "bypass@example.com", "blocked@example.com"
MESSAGE = "Upgrading the gateway <b>tonight</b>.\nBack at 06:00 UTC."
MESSAGE_FIRST_LINE = "Upgrading the gateway <b>tonight</b>."
OPEN_TABS: dict = {}  # user email -> a page that stays open across the tests


def tab(new_page, email: str):
    """Return the user's open tab, signing them in the first time."""
    if email not in OPEN_TABS:
        page = new_page()
        sign_in(page, email)
        OPEN_TABS[email] = page
    return OPEN_TABS[email]


def create_form(page, url: str, first_field: str):
    """Open the create form of an admin list page (on the page or behind a 'New' link)."""
    page.goto(url)
    field = page.locator(f"form [name={first_field}]")
    if field.count() == 0:
        page.locator("main a").filter(has_text=re.compile(r"new|create|add", re.I)).first.click()
        page.wait_for_load_state()
    return page.locator(f"form:has([name={first_field}])").first


def choose(form, name: str, labels: list[str] = (), values: list[str] = ()) -> None:
    """Pick options of a multi-select or check the matching checkboxes, by text or value."""
    widget = form.locator(f"[name={name}]")
    if widget.first.evaluate("el => el.tagName") == "SELECT":
        if labels:
            widget.first.select_option(label=list(labels))
        else:
            widget.first.select_option(value=list(values))
        return
    for value in values:
        form.locator(f"[name={name}][value='{value}']").check()
    for label in labels:
        form.get_by_label(label, exact=True).check()


def chosen(page, name: str) -> list[str]:
    """Return the names of the checked bypass roles or groups (checkbox labels)."""
    boxes = page.locator(f"input[type=checkbox][name={name}]:checked").all()
    return sorted(
        page.locator(f"label[for='{box.get_attribute('id')}']").inner_text() for box in boxes
    )


def submit(form) -> None:
    form.locator("[type=submit]").first.click()
    form.page.wait_for_load_state()


def maintenance_form(page):
    page.goto("/settings/maintenance")
    return page.locator("form:has([name=message])")


def save_maintenance(page, *, enabled: bool, restrict: bool = False) -> None:
    form = maintenance_form(page)
    form.locator("[name=enabled]").set_checked(enabled)
    form.locator("[name=restrict_event_processor]").set_checked(restrict)
    form.locator("[name=message]").fill(MESSAGE)
    choose(form, "bypass_roles", labels=["Administrator", ROLE])
    choose(form, "bypass_groups", labels=["Administrators", GROUP])
    form.locator("[type=submit]:not([name=preview])").first.click()  # Review changes
    page.wait_for_load_state()
    page.get_by_role("button", name="Confirm and apply").click()
    page.wait_for_load_state()


def main_text(page) -> str:
    return page.locator("main").inner_text()


def test_admin_builds_the_team_through_the_admin_pages(new_page):
    admin = tab(new_page, ADMIN_EMAIL)
    assert "/auth/login" not in admin.url

    form = create_form(admin, "/settings/roles", "name")
    form.locator("[name=name]").fill(ROLE)
    choose(form, "permissions", values=["dashboard:view", "events:view"])
    submit(form)
    admin.goto("/settings/roles")
    assert ROLE in main_text(admin)

    form = create_form(admin, "/settings/groups", "name")
    form.locator("[name=name]").fill(GROUP)
    submit(form)
    admin.goto("/settings/groups")
    assert GROUP in main_text(admin)

    # bypass user: the new role AND the new group; blocked user: the group only
    for email, roles in [(BYPASS_EMAIL, [ROLE]), (BLOCKED_EMAIL, ["Viewer"])]:
        form = create_form(admin, "/settings/users", "email")
        form.locator("[name=email]").fill(email)
        for password in form.locator("input[type=password]").all():
            password.fill(ADMIN_PASSWORD)
        choose(form, "roles", labels=roles)
        choose(form, "groups", labels=[GROUP])
        submit(form)
        admin.goto("/settings/users")
        assert email in main_text(admin)


def cookie_names(page) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


def test_both_users_work_before_maintenance(new_page):
    for email in (BYPASS_EMAIL, BLOCKED_EMAIL):
        page = tab(new_page, email)
        page.goto("/")
        assert "/auth/login" not in page.url
        assert email in page.locator("body").inner_text()

    # the blocked user also ticked "Keep me signed in" in another browser
    remembered = new_page()
    sign_in(remembered, BLOCKED_EMAIL, remember=True)
    remembered.context.clear_cookies(name="session")  # the browser was closed: cookie only
    remembered.goto("/")
    assert "/auth/login" not in remembered.url
    assert "remember_token" in cookie_names(remembered)
    OPEN_TABS["remembered"] = remembered


def test_admin_enables_maintenance_and_sees_who_can_sign_in(new_page):
    admin = tab(new_page, ADMIN_EMAIL)
    form = maintenance_form(admin)
    choose(form, "bypass_roles", labels=["Administrator", ROLE])
    choose(form, "bypass_groups", labels=["Administrators", GROUP])

    save_maintenance(admin, enabled=True)

    assert admin.locator("[name=enabled]").is_checked()
    preview = (
        admin.locator("section, div")
        .filter(has_text=re.compile(r"will still be able to sign in", re.I))
        .last
    )
    preview_text = preview.inner_text()
    assert BYPASS_EMAIL in preview_text
    assert ADMIN_EMAIL in preview_text
    assert BLOCKED_EMAIL not in preview_text
    assert chosen(admin, "bypass_roles") == ["Administrator", ROLE]


def test_blocked_users_open_tab_goes_to_the_login_page_on_its_next_click(new_page):
    page = tab(new_page, BLOCKED_EMAIL)
    page.locator("header a").first.click()  # the brand link: back to the dashboard
    page.wait_for_load_state()
    assert "/auth/login" in page.url
    assert MESSAGE_FIRST_LINE in main_text(page)


def test_a_remember_me_cookie_does_not_get_a_blocked_user_in(new_page):
    page = OPEN_TABS["remembered"]
    page.context.clear_cookies(name="session")
    page.goto("/")
    assert "/auth/login" in page.url
    assert MESSAGE_FIRST_LINE in main_text(page)
    assert "remember_token" not in cookie_names(page)  # cleared, not just ignored


def test_blocked_user_is_refused_at_the_login_page_and_sees_the_message(new_page):
    page = new_page()
    page.goto("/auth/login")
    assert MESSAGE_FIRST_LINE in main_text(page)  # shown to everyone, escaped

    sign_in(page, BLOCKED_EMAIL)

    assert "/auth/login" in page.url
    text = main_text(page)
    assert MESSAGE in text  # escaped, line break kept
    refusal = page.locator("[role=alert]").all_inner_texts()
    page.goto("/")
    assert "/auth/login" in page.url

    # no password oracle: a wrong password gets the very same page
    sign_in(page, BLOCKED_EMAIL, "wrong-password")
    assert page.locator("[role=alert]").all_inner_texts() == refusal
    assert MESSAGE in main_text(page)


def test_bypass_user_keeps_working_with_the_header_banner(new_page):
    page = tab(new_page, BYPASS_EMAIL)
    page.goto("/")
    assert "/auth/login" not in page.url
    banner = page.locator("#maintenance-banner")
    assert MESSAGE_FIRST_LINE in banner.inner_text()
    assert banner.locator("b").count() == 0  # the message is text, not markup


def test_disabling_restores_everything(new_page):
    admin = tab(new_page, ADMIN_EMAIL)
    save_maintenance(admin, enabled=False)
    assert not admin.locator("[name=enabled]").is_checked()

    bypass = tab(new_page, BYPASS_EMAIL)
    bypass.goto("/")
    assert bypass.locator("#maintenance-banner").count() == 0

    page = new_page()
    page.goto("/auth/login")
    assert MESSAGE_FIRST_LINE not in main_text(page)
    sign_in(page, BLOCKED_EMAIL)
    assert "/auth/login" not in page.url
    assert BLOCKED_EMAIL in page.locator("body").inner_text()


# --- the dashboard while events flow in ---------------------------------------------------------


def counters(page) -> dict[str, int]:
    """Return the dashboard's counters as {label: value} (labels lower-cased)."""
    page.reload()
    found = {}
    for counter in page.locator(".counter").all():
        value = counter.locator(".value").first.inner_text()
        label = counter.inner_text().replace(value, "", 1).strip().lower()
        found[label] = int(re.sub(r"\D", "", value) or 0)
    assert found, "the dashboard shows no counters"
    return found


def counter(page, *words: str) -> int:
    for label, value in counters(page).items():
        if any(word in label for word in words):
            return value
    raise AssertionError(f"no counter labelled {words} on the dashboard: {counters(page)}")


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def ingest(live_server, count: int, tag: str) -> list[int]:
    events = [{"type": "browser.test", "payload": {"tag": tag, "n": i}} for i in range(count)]
    response = requests.post(
        live_server.url + "/api/v1/events",
        json={"events": events},
        headers={"X-API-Key": live_server.api_key},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()["event_ids"]


def event_status(live_server, event_id: int) -> str:
    response = requests.get(
        f"{live_server.url}/api/v1/events/{event_id}",
        headers={"X-API-Key": live_server.api_key},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["status"]


def test_dashboard_counters_hold_during_the_restriction_and_drain_after(new_page, live_server):
    admin = tab(new_page, ADMIN_EMAIL)
    admin.goto("/")
    processed_before = counter(admin, "processed")

    ingest(live_server, 20, "flowing")
    wait_for(
        lambda: counter(admin, "processed") >= processed_before + 20,
        what="20 events processed on the dashboard",
    )
    processed_open = counter(admin, "processed")

    save_maintenance(admin, enabled=True, restrict=True)
    held = ingest(live_server, 30, "held")
    health = requests.get(live_server.url + "/healthz", timeout=10).json()
    assert health["event_processor"] == "paused"
    admin.goto("/")
    wait_for(lambda: counter(admin, "queued", "held") >= 30, what="30 held events on the dashboard")
    time.sleep(1.5)  # several processor intervals: nothing may start meanwhile
    assert counter(admin, "processed") == processed_open
    assert event_status(live_server, held[-1]) == "queued"

    save_maintenance(admin, enabled=False, restrict=True)
    admin.goto("/")
    wait_for(
        lambda: counter(admin, "processed") >= processed_open + 30,
        what="the held events processed after the restriction was lifted",
    )
    assert counter(admin, "queued", "held") == 0
    assert all(event_status(live_server, event_id) == "processed" for event_id in held)
