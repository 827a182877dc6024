"""Small things of the forms, in Chromium (issue 19): the restriction hint follows its checkbox,
a blocked user's unsaved input survives being signed out by maintenance, and the user form's
roles and groups are checkbox lists (two roles ticked stay two)."""

import json
from collections.abc import Iterator

import pytest

from tests.browser.conftest import OPEN_PAGES
from tests.browser.pages import sign_in
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, flask, prepare_db, serving

pytestmark = pytest.mark.browser

HELPER = "forms-helper@example.com"  # may manage users; blocked while maintenance is on
TYPED_EMAIL = "typed-before-maintenance@example.com"
TYPED_PASSWORD = "a-password-never-kept-1"
KEY = "portal:unsaved:/settings/users/new"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """A server of this module's own: its tests switch maintenance on and create users."""
    folder = tmp_path_factory.mktemp("forms")
    env = prepare_db(folder / "portal.db", PROCESSOR_ENABLED="false")
    flask(env, "roles", "create", "Helpers", "--permission", "users:manage",
          "--permission", "dashboard:view", "--permission", "events:view")  # fmt: skip
    flask(env, "users", "create", HELPER, "--password", ADMIN_PASSWORD, "--role", "Helpers",
          "--group", "Administrators")  # fmt: skip
    with serving(env, folder) as live:
        yield live


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    OPEN_PAGES.append(opened)
    yield opened
    context.close()


def test_restriction_hint_follows_the_checkbox(page):
    sign_in(page)
    page.goto("/settings/maintenance")
    box = page.locator("[name=restrict_event_processor]")
    hint = page.locator("#restrict-effect")
    assert not box.is_checked()
    assert "processing runs, and keeps running" in hint.inner_text()
    box.check()
    assert "processing will pause and events will be held" in hint.inner_text()
    box.uncheck()
    assert "processing runs, and keeps running" in hint.inner_text()


def test_unsaved_input_is_kept_through_a_maintenance_sign_out(page, server):
    sign_in(page, HELPER)
    page.goto("/settings/users/new")
    form = page.locator("form:has([name=email])")
    form.locator("[name=email]").fill(TYPED_EMAIL)
    form.locator("[name=password]").fill(TYPED_PASSWORD)
    form.locator("[name=confirm]").fill(TYPED_PASSWORD)
    roles = form.get_by_role("group", name="Roles")
    roles.get_by_label("Viewer", exact=True).check()
    roles.get_by_label("Operator", exact=True).check()
    flask(server.env, "maintenance", "enable", "--bypass-role", "Administrator",
          "--bypass-group", "Administrators")  # fmt: skip
    try:
        # told before the page leaves (the poll runs every few seconds)
        notice = page.locator("#keep-input-leaving")
        notice.wait_for(timeout=15_000)
        assert notice.inner_text().startswith("Maintenance has started; you will be signed out")
        assert notice.get_attribute("role") == "alert"
        assert "/settings/users/new" in page.url  # still on the page, the text still there
        kept = json.loads(page.evaluate(f"sessionStorage.getItem({KEY!r})"))
        (fields,) = kept.values()
        assert fields["email"] == TYPED_EMAIL
        assert sorted(fields["roles"]["chosen"]) == sorted(
            form.locator("[name=roles]:checked").evaluate_all("boxes => boxes.map(b => b.value)")
        )
        assert "password" not in fields and "confirm" not in fields  # never a password
        assert "csrf_token" not in fields and "version" not in fields  # nor a hidden field
        assert TYPED_PASSWORD not in json.dumps(kept)
        page.wait_for_url("**/auth/login**", timeout=15_000)
    finally:
        flask(server.env, "maintenance", "disable")
    # signed in again: back on the same form, filled in again, and the copy is gone
    page.locator("[name=email]").fill(HELPER)
    page.locator("[name=password]").fill(ADMIN_PASSWORD)
    page.locator("form:has([name=password]) [type=submit]").click()
    page.wait_for_url("**/settings/users/new")
    form = page.locator("form:has([name=email])")
    assert form.locator("[name=email]").input_value() == TYPED_EMAIL
    ticked = form.locator("[name=roles]:checked + label").all_inner_texts()
    assert sorted(ticked) == ["Operator", "Viewer"]
    assert form.locator("[name=password]").input_value() == ""
    assert "check it and save" in page.locator("#keep-input-restored").inner_text()
    assert page.evaluate(f"sessionStorage.getItem({KEY!r})") is None
    page.reload()  # once only: a reload shows the form as the server renders it
    assert page.locator("form [name=email]").first.input_value() == ""


def test_user_form_roles_are_checkboxes_and_two_ticked_roles_are_kept(page):
    sign_in(page, ADMIN_EMAIL)
    page.goto("/settings/users/new")
    form = page.locator("form:has([name=email])")
    assert form.locator("select[name=roles], select[name=groups]").count() == 0
    form.locator("[name=email]").fill("two-roles@example.com")
    form.locator("[name=password]").fill(TYPED_PASSWORD)
    form.locator("[name=confirm]").fill(TYPED_PASSWORD)
    roles = form.get_by_role("group", name="Roles")
    roles.get_by_label("Operator", exact=True).click()
    roles.get_by_label("Viewer", exact=True).click()  # a second click adds, never replaces
    form.get_by_role("group", name="Access groups").get_by_label("Administrators").check()
    form.get_by_role("button", name="Create user").click()
    page.wait_for_url("**/settings/users")
    page.locator("#users a", has_text="two-roles@example.com").click()
    form = page.locator("form:has([name=email])")
    ticked = form.locator("[name=roles]:checked + label").all_inner_texts()
    assert sorted(ticked) == ["Operator", "Viewer"]
