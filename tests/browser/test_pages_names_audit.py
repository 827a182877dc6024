"""Issue 13, items 8 and 9 in a real browser: role and group names unique without regard to case,
name inputs that show their limit instead of cutting text, and the audit log's changed fields,
full values on demand and filtered CSV export."""

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.pages import sign_in
from tests.live import ADMIN_EMAIL

pytestmark = pytest.mark.browser

FIRST, CLASH = "Names-night shift", "names-NIGHT SHIFT"
OLD_ROLE, NEW_ROLE = "Names-audit before", "Names-audit after"
CSV_ROLE, CSV_RENAMED = "Names-csv role", "Names-csv role renamed"


@pytest.fixture(scope="module")
def admin(new_page):
    page = new_page()
    sign_in(page)
    return page


@pytest.fixture(scope="module")
def admin_without_js(browser, live_server):
    """The admin in a browser with JavaScript off: <details> must open by itself."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page)
    yield page
    context.close()


def save(page) -> None:
    page.locator("main form [type=submit]").first.click()
    page.wait_for_load_state()


def create_role(page, name: str, permission: str = "events:view") -> None:
    page.goto("/settings/roles/new")
    page.locator("[name=name]").fill(name)
    page.locator(f"[name=permissions][value='{permission}']").check()
    save(page)
    assert page.url.endswith("/settings/roles"), page.locator("main").inner_text()


def rename_role(page, old: str, new: str) -> None:
    page.goto("/settings/roles")
    page.locator("#roles a", has_text=old).click()
    page.locator("[name=name]").fill(new)
    save(page)
    assert page.url.endswith("/settings/roles"), page.locator("main").inner_text()


def test_a_group_name_that_differs_only_in_case_is_refused_and_the_form_kept(admin):
    admin.goto("/settings/groups/new")
    admin.locator("[name=name]").fill(FIRST)
    save(admin)
    assert admin.url.endswith("/settings/groups")

    admin.goto("/settings/groups/new")
    admin.locator("[name=name]").fill(CLASH)
    admin.locator("[name=description]").fill("Names: the description typed")
    save(admin)
    error = admin.locator(".field.has-error .error")
    assert error.is_visible()
    assert f"An access group named {FIRST} already exists." in error.inner_text()
    assert "differ only in case" in error.inner_text()
    assert admin.locator("[name=name]").input_value() == CLASH
    assert admin.locator("[name=description]").input_value() == "Names: the description typed"
    admin.goto("/settings/groups")
    listed = admin.locator("#groups, main table").first.inner_text().lower()
    assert listed.count("names-night shift") == 1


def test_a_role_name_that_differs_only_in_case_is_refused_and_the_form_kept(admin):
    create_role(admin, FIRST)
    admin.goto("/settings/roles/new")
    admin.locator("[name=name]").fill(CLASH)
    admin.locator("[name=permissions][value='audit:view']").check()
    save(admin)
    error = admin.locator(".field.has-error .error")
    assert error.is_visible()
    assert f"A role named {FIRST} already exists." in error.inner_text()
    assert admin.locator("[name=name]").input_value() == CLASH
    assert admin.locator("[name=permissions][value='audit:view']").is_checked()
    admin.goto("/settings/roles")
    assert admin.locator("#roles").inner_text().lower().count("names-night shift") == 1


@pytest.mark.parametrize("url", ["/settings/groups/new", "/settings/roles/new"])
def test_a_name_cannot_be_typed_past_80_and_the_limit_is_shown(admin, url):
    admin.goto(url)
    name = admin.locator("[name=name]")
    name.press_sequentially("n" * 81)
    assert name.input_value() == "n" * 80
    hint = admin.locator(".field:has([name=name]) .help")
    assert hint.is_visible() and hint.inner_text() == "Up to 80 characters."


def test_81_characters_past_the_browser_get_the_form_error_and_nothing_is_cut(admin):
    admin.goto("/settings/groups/new")
    name = admin.locator("[name=name]")
    name.evaluate("el => el.removeAttribute('maxlength')")  # as a script or an old browser would
    long_name = "names-long-" + "x" * 70
    assert len(long_name) == 81
    name.fill(long_name)
    save(admin)
    error = admin.locator(".field.has-error .error")
    assert error.inner_text() == "Up to 80 characters: this name has 81. Shorten it and save again."
    assert admin.locator("[name=name]").input_value() == long_name
    admin.goto("/settings/groups")
    assert "names-long-" not in admin.locator("main").inner_text()


def test_the_audit_entry_of_a_rename_shows_the_change_and_the_json_on_demand(
    admin, admin_without_js
):
    create_role(admin, OLD_ROLE)
    rename_role(admin, OLD_ROLE, NEW_ROLE)

    page = admin_without_js
    page.goto("/settings/audit?module=roles")
    row = page.locator("tr.audit-entry", has_text=f"Edited role {NEW_ROLE}").first
    change = row.locator(".audit-changes li")
    assert change.all_inner_texts() == [f"name: {OLD_ROLE} → {NEW_ROLE}"]
    assert change.is_visible()
    before, after = row.locator("pre.before"), row.locator("pre.after")
    assert not before.is_visible() and not after.is_visible()
    row.locator("details summary").click()
    assert before.is_visible() and after.is_visible()
    assert f'"name": "{OLD_ROLE}"' in before.inner_text()
    assert '"permissions": [\n    "events:view"\n  ]' in after.inner_text()


def test_the_csv_export_carries_the_filters_and_holds_only_the_filtered_rows(admin):
    create_role(admin, CSV_ROLE)
    rename_role(admin, CSV_ROLE, CSV_RENAMED)
    admin.goto("/settings/audit")
    modules = admin.locator("#audit tr.audit-entry td:nth-child(3)").all_inner_texts()
    assert "auth" in modules  # the admin's sign-in: the log holds more than roles
    admin.locator("[name=module]").select_option("roles")
    admin.locator("[name=user]").fill(ADMIN_EMAIL.upper())
    admin.locator("#audit-filter [type=submit]").click()
    admin.wait_for_load_state()
    link = admin.locator("#audit-csv")
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    assert query == {"format": ["csv"], "module": ["roles"], "user": [ADMIN_EMAIL.upper()]}

    with admin.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("audit-log-")
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert rows, "the filtered export is empty"
    assert {row["module"] for row in rows} == {"roles"}
    assert {row["who"] for row in rows} == {ADMIN_EMAIL}  # not the "cli" entries of setup
    assert any(row["what"] == f"Created role {CSV_ROLE}" for row in rows)
    assert any(row["changes"] == f"name: {CSV_ROLE} → {CSV_RENAMED}" for row in rows)
    assert len(rows) >= admin.locator("tr.audit-entry").count()  # not fewer than the page
