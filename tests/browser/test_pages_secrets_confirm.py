"""Issue 13, items 6 and 7, in a real browser against the real server.

6. A new API key (creating a client, rotating its key) and a generated webhook signing secret are
   shown by a GET page after the POST: a reload shows the same value, the Copy button puts it on
   the clipboard, another session never sees it, "dismiss" removes it, and the value works.
7. Deleting a user, a role or an access group goes through one confirmation page that names what
   goes with it; Cancel keeps the row, the confirmed POST deletes it.

Every name here starts with "secrets" (this module shares the package's server).
"""

import re
import time
from collections.abc import Iterator

import pytest
import requests
import standardwebhooks
from axe_playwright_python.sync_playwright import Axe

from tests.browser.pages import sign_in
from tests.events_support import webhook_server
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, flask, last_line, post_events

pytestmark = pytest.mark.browser

CLIENT, NEW_CLIENT = "secrets Acme", "secrets Beta"
ROLE, GROUP, USER = "secrets Crew", "secrets Shift", "secrets.crew@example.com"


@pytest.fixture(scope="module")
def open_page(browser, live_server) -> Iterator:
    """Open a page in a fresh context (its own cookies), signed in as ``email`` if given."""
    contexts = []

    def factory(email: str | None = ADMIN_EMAIL, *, javascript: bool = True):
        context = browser.new_context(
            base_url=live_server.url,
            java_script_enabled=javascript,
            permissions=["clipboard-read", "clipboard-write"],
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if email:
            sign_in(page, email)
        return page

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def acme_key(live_server) -> str:
    """A client of this module's own (its workflows never see other tests' events); its key."""
    return last_line(flask(live_server.env, "clients", "create", CLIENT))


def shown(page, input_id: str) -> str | None:
    """Return the secret the reveal page shows, or None when it shows none."""
    field = page.locator(f"#{input_id}")
    return field.input_value() if field.count() else None


def serious_axe_violations(page) -> list[str]:
    """Return axe-core's serious and critical findings on the page as it is now."""
    found = Axe().run(page).response["violations"]
    return [v["id"] for v in found if v["impact"] in ("serious", "critical")]


def ingest_status(live_server, key: str) -> int:
    response = requests.post(
        live_server.url + "/api/v1/events",
        json={"type": "secrets.check", "payload": {}},
        headers={"X-API-Key": key},
        timeout=10,
    )
    return response.status_code


def copy_and_read(page) -> str:
    page.locator("button.copy-button").click()
    page.locator("#copy-status").filter(has_text="Copied").wait_for()
    return page.evaluate("navigator.clipboard.readText()")


def dismiss(page, back_to: str) -> None:
    page.get_by_role("button", name=re.compile("I have stored it")).click()
    page.wait_for_url(f"**{back_to}")


# --- item 6: one-time reveals ---------------------------------------------------------------


def test_a_new_client_key_survives_reloads_copies_works_and_goes_when_dismissed(
    open_page, live_server
):
    admin = open_page()
    admin.goto("/settings/clients/new")
    admin.locator("[name=name]").fill(NEW_CLIENT)
    admin.locator("form:has([name=name]) [type=submit]").click()
    admin.wait_for_load_state()
    assert re.search(r"/settings/clients/\d+/key$", admin.url), admin.url  # redirected to a GET
    key = shown(admin, "api-key-value")
    assert key and key.startswith("gp_")
    assert admin.locator("#api-key-value").get_attribute("readonly") is not None
    for _ in range(2):
        admin.reload()
        assert shown(admin, "api-key-value") == key  # the same key, nothing resubmitted
    assert "already exists" not in admin.locator("main").inner_text()
    assert copy_and_read(admin) == key
    assert serious_axe_violations(admin) == []
    assert ingest_status(live_server, key) == 202
    elsewhere = open_page()  # the same admin, another session
    elsewhere.goto(admin.url)
    assert shown(elsewhere, "api-key-value") is None
    assert key not in elsewhere.content()
    reveal = admin.url
    dismiss(admin, "/settings/clients")
    admin.goto(reveal)
    assert shown(admin, "api-key-value") is None and key not in admin.content()
    assert ingest_status(live_server, key) == 202  # dismissing hides it; the key still works


def test_a_rotated_key_is_revealed_the_same_way_even_without_javascript(
    open_page, live_server, acme_key
):
    admin = open_page(javascript=False)
    admin.goto("/settings/clients")
    admin.locator("main table").get_by_role("link", name=CLIENT, exact=True).click()
    admin.wait_for_load_state()
    admin.get_by_role("link", name="Rotate key…").click()  # asks first, like every delete
    admin.wait_for_load_state()
    assert admin.url.endswith("/rotate-key")
    assert "stops working at once" in admin.locator("#consequences").inner_text()
    admin.locator("#cancel-delete").click()
    admin.wait_for_load_state()
    assert ingest_status(live_server, acme_key) == 202  # cancelled: the key still works
    admin.get_by_role("link", name="Rotate key…").click()
    admin.wait_for_load_state()
    admin.get_by_role("button", name="Rotate key").click()
    admin.wait_for_load_state()
    assert admin.url.endswith("/key")
    key = shown(admin, "api-key-value")
    assert key and key != acme_key
    assert admin.locator("button.copy-button").is_hidden()  # no script: select and copy by hand
    admin.reload()
    assert shown(admin, "api-key-value") == key
    assert ingest_status(live_server, key) == 202
    assert ingest_status(live_server, acme_key) == 401
    reveal = admin.url
    dismiss(admin, "/settings/clients")
    admin.goto(reveal)
    assert shown(admin, "api-key-value") is None


def test_a_generated_signing_secret_is_revealed_copied_and_signs_the_calls(
    open_page, live_server, acme_key
):
    key = last_line(flask(live_server.env, "clients", "rotate-key", CLIENT))  # CLI as before
    admin = open_page()
    with webhook_server() as (url, recorder):
        admin.goto("/settings/workflows/new")
        form = admin.locator("form:has([name=secret])")
        form.locator("[name=client_id]").select_option(label=CLIENT)
        form.locator("[name=name]").fill("secrets hook")
        form.locator("[name=event_type]").fill("secrets.ping")
        form.locator("[name=action]").select_option("webhook")
        form.locator("[name=url]").fill(url)
        form.locator("[type=submit]").first.click()
        admin.wait_for_load_state()
        assert re.search(r"/settings/workflows/\d+/secret$", admin.url), admin.url
        secret = shown(admin, "signing-secret-value")
        assert secret and secret.startswith("whsec_")
        admin.reload()
        assert shown(admin, "signing-secret-value") == secret
        assert copy_and_read(admin) == secret
        reveal = admin.url
        post_events(live_server.url, key, [{"type": "secrets.ping", "payload": {}}])
        deadline = time.monotonic() + 15
        while recorder.count == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert recorder.count >= 1, "the webhook was not called"
        call = recorder.requests[0]
        headers = {name.lower(): value for name, value in call["headers"].items()}
        assert standardwebhooks.Webhook(secret).verify(call["body"], headers)
    dismiss(admin, "/settings/workflows")
    admin.goto(reveal)
    assert shown(admin, "signing-secret-value") is None


# --- item 7: one confirmation for every delete ----------------------------------------------


@pytest.fixture(scope="module")
def team(live_server) -> None:
    """A role and a group that one user holds besides Viewer and Administrators."""
    env = live_server.env
    flask(env, "roles", "create", ROLE, "--permission", "dashboard:view")
    flask(env, "groups", "create", GROUP)
    flask(env, "users", "create", USER, "--password", ADMIN_PASSWORD, "--role", "Viewer",
          "--role", ROLE, "--group", "Administrators", "--group", GROUP)  # fmt: skip


def consequences(page) -> str:
    return page.locator("#consequences").inner_text()


def row_link(page, list_url: str, name: str):
    page.goto(list_url)
    return page.locator("main table").get_by_role("link", name=name, exact=True)


def open_confirmation(page, list_url: str, name: str, label: str) -> str:
    """From the list, open the row's edit page and follow its delete control; return the URL."""
    row_link(page, list_url, name).click()
    page.wait_for_load_state()
    page.get_by_role("link", name=label).click()  # a link to the confirmation, not a POST
    page.wait_for_load_state()
    assert page.url.endswith("/delete"), page.url
    return page.url


def confirm_then_cancel_then_delete(
    page, list_url: str, name: str, kind: str, effect: str, control: str = ""
):
    url = open_confirmation(page, list_url, name, control or f"Delete {kind} {name}…")
    assert page.locator("h1").inner_text() == f"Delete {kind} {name}?"
    assert effect in consequences(page)
    assert serious_axe_violations(page) == []
    page.locator("#cancel-delete").click()
    page.wait_for_load_state()
    assert row_link(page, list_url, name).count() == 1  # cancelling keeps the row
    page.goto(url)
    page.get_by_role("button", name=f"Delete {kind}").click()
    page.wait_for_load_state()
    assert "deleted" in page.locator(".flash").first.inner_text()
    assert row_link(page, list_url, name).count() == 0


def test_deleting_a_role_asks_first_naming_who_loses_it(open_page, team):
    admin = open_page()
    effect = f"1 user loses this role: {USER}."
    confirm_then_cancel_then_delete(admin, "/settings/roles", ROLE, "role", effect)


def test_deleting_a_group_asks_first_naming_who_loses_it(open_page, team):
    admin = open_page()
    effect = f"1 user loses this access group: {USER}."
    confirm_then_cancel_then_delete(admin, "/settings/groups", GROUP, "access group", effect)


def test_deleting_a_user_asks_first_naming_their_open_sessions(open_page, team):
    crew = open_page(USER)  # signed in: one open session
    crew.goto("/")
    admin = open_page()
    effect = f"{USER} can no longer sign in; 1 open session ends at once"
    control = f"Delete {USER}…"  # the edit page's delete control
    confirm_then_cancel_then_delete(
        admin, "/settings/users?q=secrets", USER, "user", effect, control
    )
    crew.reload()
    assert "/auth/login" in crew.url  # the session named on the page did end


def test_deleting_a_workflow_uses_the_same_confirmation(open_page, acme_key):
    admin = open_page()
    admin.goto("/settings/workflows/new")
    form = admin.locator("form:has([name=secret])")
    form.locator("[name=client_id]").select_option(label=CLIENT)
    form.locator("[name=name]").fill("secrets record")
    form.locator("[name=event_type]").fill("secrets.never")
    form.locator("[type=submit]").first.click()
    admin.wait_for_load_state()
    admin.locator(f"section[data-client='{CLIENT}'] tr", has_text="secrets record").get_by_role(
        "link", name="Delete…"
    ).click()
    admin.wait_for_load_state()
    assert admin.locator("h1").inner_text() == "Delete workflow secrets record?"
    said = consequences(admin)
    assert "0 past deliveries stay in the history, without the workflow." in said
    admin.get_by_role("button", name="Delete workflow").click()
    admin.wait_for_load_state()
    assert "Workflow secrets record deleted." in admin.locator(".flash").first.inner_text()
    assert admin.locator("table td", has_text="secrets record").count() == 0
