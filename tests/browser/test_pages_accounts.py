"""Accounts in a real browser (issue 13, items 12 and 13 a–c): guessable passwords refused with
advice on the forms, a user made to change their password at first sign-in, and the users list's
"Last signed in" and "May sign in during maintenance" columns.

The tests run in order on the package's shared server; every name starts with "accounts", and the
maintenance selection changed by the last test is put back as it was.
"""

import re

import pytest

from tests.browser.pages import submit_sign_in as sign_in_page
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, flask, form_post, maintenance_status, sign_in

pytestmark = pytest.mark.browser

WEAK = {  # password -> a piece of zxcvbn's advice the refusal must carry
    "password": "common password",
    "12345678": "common password",
    "aaaaaaaa": "Repeats",
}
REFUSAL = "too easy to guess"
ADVICE = "Add another word or two"
FORCED = "accounts.forced@example.com"
FIRST_PASSWORD = "accounts-temporary-lilac-41"
OWN_PASSWORD = "accounts-harbour-kestrel-58"
BYPASS, OTHER = "accounts.bypass@example.com", "accounts.other@example.com"
ROLE, GROUP, OTHER_GROUP = "accounts role", "accounts group", "accounts other group"
PAGES: dict = {}


def admin_page(new_page):
    if "admin" not in PAGES:
        PAGES["admin"] = page = new_page()
        sign_in_page(page, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert "/auth/login" not in page.url
    return PAGES["admin"]


def fill_new_user(page, email: str, password: str, *, must_change: bool = False):
    page.goto("/settings/users/new")
    form = page.locator("form:has([name=email])")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(password)
    form.locator("[name=confirm]").fill(password)
    form.get_by_role("group", name="Roles").get_by_label("Viewer", exact=True).check()
    form.get_by_role("group", name="Access groups").get_by_label("Administrators").check()
    if must_change:
        form.locator("[name=must_change_password]").check()
    form.locator("[type=submit]").click()
    page.wait_for_load_state()
    return page.locator("form:has([name=email])")


def create_user(env: dict, email: str, password: str, role: str, group: str) -> None:
    flask(env, "users", "create", email, "--password", password, "--role", role, "--group", group)


def row(page, email: str):
    page.goto("/settings/users?q=" + email)
    return page.locator("#users tbody tr").filter(has_text=email)


def errors(page) -> str:
    return " ".join(page.locator("main .error").all_inner_texts())


def test_the_new_user_form_refuses_guessable_passwords_with_advice(new_page):
    admin = admin_page(new_page)
    email = "accounts.weak@example.com"
    for password, advice in WEAK.items():
        form = fill_new_user(admin, email, password)
        assert admin.url.endswith("/settings/users/new"), password  # re-rendered, not saved
        message = errors(admin)
        assert REFUSAL in message and advice in message and ADVICE in message, (password, message)
        assert form.locator("[name=email]").input_value() == email  # the rest is kept
        assert form.locator("[name=roles]:checked + label").all_inner_texts() == ["Viewer"]
    assert row(admin, email).count() == 0


def test_a_user_made_to_change_their_password_lands_on_the_password_page(new_page):
    admin = admin_page(new_page)
    fill_new_user(admin, FORCED, FIRST_PASSWORD, must_change=True)
    assert row(admin, FORCED).locator(".last-signed-in").inner_text().strip() == "Never"

    page = PAGES["forced"] = new_page()
    sign_in_page(page, FORCED, FIRST_PASSWORD)
    assert "/auth/password" in page.url
    assert page.locator("#password-change-required").is_visible()
    for path in ("/", "/events", "/settings/users"):
        page.goto(path)
        assert "/auth/password" in page.url, path
        assert page.locator("main h1").inner_text() == "Change password"


def test_the_users_list_shows_when_the_user_signed_in(new_page):
    cell = row(admin_page(new_page), FORCED).locator(".last-signed-in")
    assert cell.inner_text().strip() != "Never"
    stamp = cell.locator("time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp.get_attribute("datetime"))
    # in the browser's zone (UTC here), with its relative form, the exact UTC time as its title
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \((just now|.+ ago)\)", stamp.inner_text())
    assert stamp.get_attribute("title").endswith(" UTC")


def test_the_password_page_refuses_guessable_passwords_with_advice(new_page, live_server):
    email = "accounts.changer@example.com"
    create_user(live_server.env, email, FIRST_PASSWORD, "Viewer", "Administrators")
    page = new_page()
    sign_in_page(page, email, FIRST_PASSWORD)
    for password, advice in WEAK.items():
        page.goto("/auth/password")
        page.locator("[name=current_password]").fill(FIRST_PASSWORD)
        page.locator("[name=new_password]").fill(password)
        page.locator("[name=confirm]").fill(password)
        page.locator("form:has([name=new_password]) [type=submit]").click()
        page.wait_for_load_state()
        assert "/auth/password" in page.url, password  # re-rendered, not changed
        message = errors(page)
        assert REFUSAL in message and advice in message, (password, message)
    again = new_page()
    sign_in_page(again, email, FIRST_PASSWORD)  # the password is still the old one
    assert "/auth/login" not in again.url


def test_after_choosing_a_new_password_the_dashboard_opens(new_page):
    page = PAGES["forced"]
    page.goto("/")
    assert "/auth/password" in page.url  # still held there
    page.locator("[name=current_password]").fill(FIRST_PASSWORD)
    page.locator("[name=new_password]").fill(OWN_PASSWORD)
    page.locator("[name=confirm]").fill(OWN_PASSWORD)
    page.locator("form:has([name=new_password]) [type=submit]").click()
    page.wait_for_load_state()
    assert "/auth/password" not in page.url
    for path in ("/", "/events"):
        page.goto(path)
        assert "/auth/password" not in page.url and "/auth/login" not in page.url, path
    # and the next sign-in goes straight in
    again = new_page()
    sign_in_page(again, FORCED, OWN_PASSWORD)
    assert "/auth/password" not in again.url and "/auth/login" not in again.url


def bypass_options(page, name: str) -> dict[str, tuple[str, bool]]:
    """Return {label: (value, checked)} of the maintenance form's bypass roles or groups."""
    found = {}
    for box in page.locator(f"input[type=checkbox][name={name}]").all():
        label = page.locator(f"label[for='{box.get_attribute('id')}']").inner_text().strip()
        found[label] = (box.get_attribute("value"), box.is_checked())
    for option in page.locator(f"select[name={name}] option").all():
        found[option.inner_text().strip()] = (
            option.get_attribute("value"),
            option.evaluate("el => el.selected"),
        )
    return found


def test_the_users_list_says_who_may_sign_in_during_maintenance(new_page, live_server):
    env = live_server.env
    flask(env, "roles", "create", ROLE, "--permission", "dashboard:view")
    flask(env, "groups", "create", GROUP)
    flask(env, "groups", "create", OTHER_GROUP)
    for email, group in ((BYPASS, GROUP), (OTHER, OTHER_GROUP)):
        create_user(env, email, OWN_PASSWORD, ROLE, group)
    status = maintenance_status(env)
    assert not status["enabled"], "another test left maintenance on"

    admin = admin_page(new_page)
    admin.goto("/settings/maintenance")
    roles, groups = bypass_options(admin, "bypass_roles"), bypass_options(admin, "bypass_groups")
    before = {
        "bypass_roles": [value for value, checked in roles.values() if checked],
        "bypass_groups": [value for value, checked in groups.values() if checked],
    }
    ours = {
        "bypass_roles": [roles["Administrator"][0], roles[ROLE][0]],
        "bypass_groups": [groups["Administrators"][0], groups[GROUP][0]],
    }
    kept = {  # everything else stays as it was; maintenance stays off
        "message": status["message"],
        "notice_minutes": str(status["notice_minutes"]),
        "scheduled_start": (status["scheduled_start"] or "")[:16],  # YYYY-MM-DDTHH:MM
    }
    if status["restrict_event_processor"]:
        kept["restrict_event_processor"] = "y"
    session = sign_in(live_server.url, ADMIN_EMAIL)
    url = live_server.url + "/settings/maintenance"
    try:
        saved = form_post(session, url, {**kept, **ours}, timeout=30)
        assert saved.status_code in (200, 302), saved.text[:500]
        assert sorted(maintenance_status(env)["bypass_roles"]) == sorted(["Administrator", ROLE])

        admin.goto("/settings/users?q=accounts.")
        header = admin.locator("#users thead th").filter(has_text="May sign in during maintenance")
        assert "bypass" in header.inner_text()
        assert ROLE in admin.locator("#bypass-note").inner_text()
        assert row(admin, BYPASS).locator(".may-bypass").inner_text().strip() == "Yes"
        assert row(admin, OTHER).locator(".may-bypass").inner_text().strip() == "No"
        assert row(admin, ADMIN_EMAIL).locator(".may-bypass").inner_text().strip() == "Yes"
    finally:
        form_post(session, url, {**kept, **before}, timeout=30)
    after = maintenance_status(env)
    assert not after["enabled"] and ROLE not in after["bypass_roles"]
