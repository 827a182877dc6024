"""The frame of every page in a real browser (issue 13, items 10, 11 and the second half of 4):
the menu grouped as Settings → Client Settings → Maintenance Mode with real overview pages
and breadcrumbs, ``/login``, no page scrolling sideways on a 390 px phone, the collapsed menu,
the skip link, and long unbroken text wrapping at 1280 px and 390 px.

This module runs its own server on its own database: the wide rows it creates (long names,
emails and URLs) stay out of the other modules' pages.
"""

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.browser.conftest import OPEN_PAGES
from tests.browser.pages import add_bulk_job
from tests.browser.test_accessibility import NOT_PAGES
from tests.conftest import make_app
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    csrf_from,
    flask,
    form_post,
    free_port,
    post_events,
    prepare_db,
    serving,
    sign_in,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "layout-Qx7vB29-plum-orbit-lantern"  # strong enough for any password rule
OPERATOR = "layout.operator@example.com"
# Wide data: long unbroken names, emails and URLs, as real admins paste them.
LONG_ROLE = "layoutRole" + "R" * 70  # 80 characters, no break
LONG_GROUP = "layoutGroup" + "G" * 69
LONG_CLIENT = "layoutClient" + "C" * 100
LONG_EMAIL = "layout." + "e" * 56 + "@" + "d" * 60 + ".example.com"
LONG_URL = f"http://127.0.0.1:{free_port()}/" + "u" * 300  # nothing listens: deliveries fail
LONG_TYPE = "layout." + "t" * 150
NOT_HTML = ("operations.",)  # the metrics, for a bearer token
DEAD_RESET_LINK = "no-such-reset-link"  # /auth/reset/<token>: the page saying the link is dead
WRAP_GROUP = "layoutWrap" + "W" * 70  # item 4: an 80-character unbroken group name
WRAP_MESSAGE = "Upgrade notes: https://status.example.com/" + "n" * 300


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("layout")
    env = prepare_db(folder / "portal.db")
    operator = ("--password", PASSWORD, "--role", "Operator", "--group", "Administrators")
    flask(env, "users", "create", OPERATOR, *operator)
    with serving(env, folder) as live:
        try:
            yield live
        finally:
            flask(env, "maintenance", "disable")


@pytest.fixture(scope="module")
def admin(server) -> requests.Session:
    """The instance admin's signed-in session for plain form POSTs."""
    session = sign_in(server.url, ADMIN_EMAIL)
    assert session.get(server.url + "/settings/users", timeout=10).status_code == 200
    return session


def created(response: requests.Response) -> None:
    """Fail with the form's errors unless the POST saved (a redirect, or the client's key page)."""
    errors = re.findall(r'class="error"[^>]*>([^<]+)', response.text)
    assert response.status_code < 400 and not errors, (response.status_code, errors)


def first_id(session: requests.Session, url: str, pattern: str) -> int:
    """Return the first id that ``pattern`` (one group) finds on the page at ``url``."""
    found = re.search(pattern, session.get(url, timeout=10).text)
    assert found, (url, pattern)
    return int(found.group(1))


def option_value(html: str, label: str) -> str:
    """Return the value (an id) of the option or checkbox whose text is ``label``."""
    found = re.search(r'<option[^>]*value="(\d+)"[^>]*>\s*' + re.escape(label) + r"\s*<", html)
    if found is None:  # a checkbox list: <input value=ID id=X> … <label for=X>label</label>
        found = re.search(
            r'value="(\d+)"[^>]*>\s*<label[^>]*>\s*' + re.escape(label) + r"\s*<", html
        )
    assert found, label
    return found.group(1)


@pytest.fixture(scope="module")
def wide_rows(server, admin) -> dict[str, int]:
    """Create one of each row with long unbroken text; return their ids by URL argument."""
    base = server.url
    created(
        form_post(
            admin,
            base + "/settings/roles/new",
            {"name": LONG_ROLE, "permissions": ["dashboard:view", "events:view"]},
        )
    )
    created(
        form_post(
            admin,
            base + "/settings/groups/new",
            {"name": LONG_GROUP, "description": "https://docs.example.com/" + "d" * 300},
        )
    )
    created(
        form_post(
            admin,
            base + "/settings/clients/new",
            {
                "name": LONG_CLIENT,
                "contact_email": LONG_EMAIL,
                "password_retry_limit": "5",
                "lockout_minutes": "15",
                "password_regex": "^" + "(?=.*[A-Z])" * 20 + ".{8,}$",
                "password_rule_message": "https://policy.example.com/" + "p" * 200,
                "retention_days": "30",
            },
        )
    )
    client_id = first_id(
        admin, base + "/settings/clients", r'href="/settings/clients/(\d+)">' + LONG_CLIENT
    )
    form = admin.get(base + "/settings/users/new", timeout=10).text
    user = {
        "email": LONG_EMAIL,
        "client": str(client_id),
        "roles": [option_value(form, LONG_ROLE)],
        "groups": [option_value(form, LONG_GROUP)],
        "active": "y",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    created(form_post(admin, base + "/settings/users/new", user))
    default = {"client_id": "1", "enabled": "y", "event_type": "*", "condition_op": "eq"}
    workflow = {**default, "name": "layout-" + "w" * 100, "action": "webhook", "url": LONG_URL}
    created(form_post(admin, base + "/settings/workflows/new", workflow))
    created(
        form_post(
            admin,
            base + "/settings/workflows/new",
            {**default, "name": "layout-record", "action": "record"},
        )
    )
    trigger = {
        "client_id": "1",
        "name": "layout-" + "t" * 100,
        "interval_seconds": "86400",
        "event_type": LONG_TYPE,
        "payload": '{"note": "' + "p" * 300 + '"}',
    }
    created(form_post(admin, base + "/settings/triggers/new", trigger))
    event = {"type": LONG_TYPE, "payload": {"link": LONG_URL, "text": "x" * 400}}
    event_id = post_events(base, server.api_key, [event])["event_ids"][0]
    ids = {
        "role_id": first_id(
            admin, base + "/settings/roles", r'href="/settings/roles/(\d+)">' + LONG_ROLE
        ),
        "group_id": first_id(
            admin, base + "/settings/groups", r'href="/settings/groups/(\d+)">' + LONG_GROUP
        ),
        "client_id": client_id,
        "user_id": first_id(
            admin, base + "/settings/users", r'href="/settings/users/(\d+)">' + LONG_EMAIL
        ),
        "workflow_id": first_id(
            admin, base + "/settings/workflows", r'href="/settings/workflows/(\d+)/edit"'
        ),
        "trigger_id": first_id(
            admin, base + "/settings/triggers", r'href="/settings/triggers/(\d+)/edit"'
        ),
        "event_id": event_id,
    }
    ids["delivery_id"] = delivery_of(admin, f"{base}/events/{event_id}")
    admins = ("--bypass-role", "Administrator", "--bypass-group", "Administrators")
    flask(server.env, "maintenance", "enable", "--restrict-events", *admins)  # a window...
    flask(server.env, "maintenance", "disable")
    ids["window_id"] = first_id(  # ...and its page
        admin, base + "/settings/maintenance/windows", r'href="/settings/maintenance/windows/(\d+)"'
    )
    ids["job_id"] = add_bulk_job(server.env)
    ids["token"] = DEAD_RESET_LINK
    made = form_post(  # a personal access token with a long name, and its one-time reveal
        admin,
        base + "/account/tokens",
        {"name": "layout-" + "k" * 70, "expires_days": "30", "scopes": "maintenance:read"},
    )
    ids["token_id"] = int(re.search(r"/account/tokens/(\d+)", made.headers["Location"]).group(1))
    return ids


def delivery_of(session: requests.Session, event_url: str) -> int:
    """Return the id of the event's first delivery, once the processor has made it."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = re.search(r'data-delivery-id="(\d+)"', session.get(event_url, timeout=10).text)
        if found:
            return int(found.group(1))
        time.sleep(0.3)
    raise AssertionError(f"no delivery on {event_url}")


def page_urls(tmp_path, ids: dict[str, int]) -> list[str]:
    """Return every GET page of the route inventory, its URL arguments filled with ``ids``."""
    app = make_app(tmp_path / "unused.db", tmp_path / "instance")
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith(NOT_PAGES + NOT_HTML):
            continue
        missing = set(rule.arguments) - set(ids)
        assert not missing, f"give {rule.endpoint} a row for {missing} in wide_rows"
        urls.add(re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: str(ids[m.group(1)]), rule.rule))
    return sorted(urls)


OPENED: list = []  # this module's pages, closed when it ends


@pytest.fixture(scope="module", autouse=True)
def close_pages() -> Iterator[None]:
    yield
    for page in OPENED:
        if not page.is_closed():
            page.context.close()


def open_page(browser, server, *, viewport=DESKTOP, javascript=True):
    """Open a page in a fresh browser context (its own cookies) at ``viewport``."""
    context = browser.new_context(
        base_url=server.url, viewport=viewport, java_script_enabled=javascript
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    OPEN_PAGES.append(page)  # a failing test leaves its screenshot in test-artifacts/
    OPENED.append(page)
    return page


def open_signed_in(browser, server, email: str = ADMIN_EMAIL, *, viewport=DESKTOP, javascript=True):
    """Open a page signed in as ``email`` (the admin unless told otherwise)."""
    page = open_page(browser, server, viewport=viewport, javascript=javascript)
    page.goto("/auth/login")
    page.locator("[name=email]").fill(email)
    page.locator("[name=password]").fill(ADMIN_PASSWORD if email == ADMIN_EMAIL else PASSWORD)
    page.locator("form:has([name=password]) [type=submit]").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    return page


def overflow(page) -> int:
    """Return how many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


STICKING_OUT = """() => Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter(el => !el.parentElement.closest('.table-scroll'))
  .slice(0, 3)
  .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
       (typeof el.className === 'string' && el.className ? '.' + el.className : '') +
       ' ' + Math.round(el.getBoundingClientRect().right) + 'px')"""


def too_wide(page) -> str | None:
    """Return how much wider than the window the page is, and what sticks out; None if nothing."""
    extra = overflow(page)
    return f"{extra} px: {page.evaluate(STICKING_OUT)}" if extra > 0 else None


# --- Item 10: the menu, the overview pages, breadcrumbs, /login ------------------------------


def main_menu(page):
    return page.locator("header nav[aria-label='Main']")


def test_the_menu_groups_settings_as_the_product_page_does(browser, server):
    page = open_signed_in(browser, server)
    menu = main_menu(page)
    top = menu.locator(":scope > ul > li")
    assert [text.split("\n")[0].strip() for text in top.all_inner_texts()] == [
        "Dashboard",
        "Events",
        "Settings",
    ]
    settings = menu.locator(".nav-group").filter(has=page.locator("summary", has_text="Settings"))
    assert not settings.get_by_role("link", name="Users", exact=True).is_visible()
    settings.locator("summary").click()
    for name in ("Users", "Roles", "Access groups", "Client Settings", "Workflows", "Audit log"):
        assert settings.get_by_role("link", name=name, exact=True).is_visible(), name
    client_settings = settings.locator("li").filter(
        has=page.get_by_role("link", name="Client Settings", exact=True)
    )
    assert client_settings.locator("ul").get_by_role("link", name="Maintenance Mode").count() == 1
    client_settings.locator("ul").get_by_role("link", name="Maintenance Mode").click()
    page.wait_for_url("**/settings/maintenance")
    crumbs = page.locator("nav[aria-label='Breadcrumb'] li").all_inner_texts()
    assert [crumb.strip() for crumb in crumbs] == [
        "Settings",
        "Client Settings",
        "Maintenance Mode",
    ]


def test_breadcrumb_links_open_the_pages_they_name(browser, server, wide_rows):
    page = open_signed_in(browser, server)
    pages = [
        "/settings/maintenance",
        "/settings/maintenance/windows",
        "/settings/client-settings",
        "/settings/clients",
        f"/settings/clients/{wide_rows['client_id']}",
        "/settings/users",
        f"/settings/users/{wide_rows['user_id']}",
        "/settings/roles",
        f"/settings/groups/{wide_rows['group_id']}",
        f"/settings/workflows/{wide_rows['workflow_id']}/edit",
        f"/settings/triggers/{wide_rows['trigger_id']}/delete",
        "/settings/audit",
    ]
    followed = set()
    for url in pages:
        page.goto(url)
        crumbs = page.locator("nav[aria-label='Breadcrumb'] a")
        assert crumbs.count() >= 1, url
        assert crumbs.first.inner_text() == "Settings", url
        current = page.locator("nav[aria-label='Breadcrumb'] [aria-current='page']")
        assert current.count() == 1, url
        for link in crumbs.all():
            followed.add((link.inner_text(), link.get_attribute("href")))
    assert ("Client Settings", "/settings/client-settings") in followed
    for label, href in sorted(followed):
        response = page.goto(href)
        assert response.status == 200, href
        assert label.lower() in page.locator("h1").inner_text().lower(), href


def test_the_overview_pages_list_only_what_the_user_may_open(browser, server):
    admin = open_signed_in(browser, server)
    admin.goto("/settings")
    headings = admin.locator("main h2").all_inner_texts()
    assert headings == ["Users and access", "Clients and maintenance", "Automation", "Records"]
    admin.get_by_role("link", name="Client Settings", exact=True).first.click()
    admin.wait_for_url("**/settings/client-settings")
    assert "Off" in admin.locator("#maintenance-status").inner_text()
    for name in ("Maintenance Mode", "Maintenance windows", "Clients"):
        assert admin.locator("main").get_by_role("link", name=name, exact=True).count() == 1

    operator = open_signed_in(browser, server, OPERATOR)
    menu = main_menu(operator)
    menu.locator("summary", has_text="Settings").click()
    links = menu.locator(".nav-panel a").all_inner_texts()
    assert links == ["All settings", "Workflows", "Triggers"]
    operator.goto("/settings")
    assert operator.locator("main h2").all_inner_texts() == ["Automation"]
    assert operator.goto("/settings/client-settings").status == 403
    assert operator.goto("/settings/users").status == 403


def sign_in_target(url: str) -> str | None:
    """Return the ``next`` of a sign-in page address (None if it is not the sign-in page)."""
    parts = urlsplit(url)
    if parts.path != "/auth/login":
        return None
    return parse_qs(parts.query).get("next", [None])[0]


def test_login_leads_to_the_sign_in_page_keeping_a_safe_next(browser, server):
    answer = requests.get(
        server.url + "/login?next=/settings/users", allow_redirects=False, timeout=10
    )
    assert answer.status_code in (301, 302, 308)
    assert sign_in_target(answer.headers["Location"]) == "/settings/users"
    for unsafe in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        answer = requests.get(
            server.url + "/login", params={"next": unsafe}, allow_redirects=False, timeout=10
        )
        assert answer.headers["Location"] == "/auth/login", unsafe  # no next at all

    page = open_page(browser, server)
    page.goto("/login?next=/settings/roles")
    assert sign_in_target(page.url) == "/settings/roles"
    page.locator("[name=email]").fill(ADMIN_EMAIL)
    page.locator("[name=password]").fill(ADMIN_PASSWORD)
    page.locator("form:has([name=password]) [type=submit]").click()
    page.wait_for_url("**/settings/roles")


# --- Item 11: phone widths, the collapsed menu, the skip link --------------------------------


def test_no_page_scrolls_sideways_on_a_phone(browser, server, wide_rows, tmp_path):
    page = open_signed_in(browser, server, viewport=PHONE)
    urls = page_urls(tmp_path, wide_rows)
    assert len(urls) >= 25
    wide = {}
    for url in urls:
        answer = page.request.get(url)  # the page's cookies; a download would stop goto
        status = 404 if url.endswith(DEAD_RESET_LINK) else 200  # that page says the link is dead
        assert answer.status == status, url
        if "text/html" not in answer.headers.get("content-type", ""):
            continue  # a CSV or JSON answer has no width
        assert page.goto(url).status == status, url
        # open what is folded (the audit log's before/after values): it must fit as well
        page.evaluate("document.querySelectorAll('main details').forEach(d => { d.open = true; })")
        if too_wide(page):
            wide[url] = too_wide(page)
    visitor = open_page(browser, server, viewport=PHONE)
    visitor.goto("/auth/login")  # signed out
    if too_wide(visitor):
        wide["/auth/login (signed out)"] = too_wide(visitor)
    assert not wide, f"pages wider than the 390 px window: {wide}"


def test_the_menu_is_one_toggle_on_a_phone_and_works_without_javascript(browser, server):
    for javascript in (True, False):
        page = open_signed_in(browser, server, viewport=PHONE, javascript=javascript)
        header = page.locator("header.site-header")
        toggle = header.locator("summary", has_text="Menu")
        assert header.bounding_box()["height"] < 70, "the header is one row"
        assert toggle.bounding_box()["y"] < 40
        assert not main_menu(page).get_by_role("link", name="Events").is_visible()
        assert not header.get_by_role("button", name="Sign out").is_visible()
        toggle.click()
        assert main_menu(page).get_by_role("link", name="Events").is_visible()
        assert header.get_by_role("button", name="Sign out").is_visible()
        main_menu(page).locator("summary", has_text="Settings").click()
        main_menu(page).get_by_role("link", name="Roles", exact=True).click()
        page.wait_for_url("**/settings/roles")
        assert page.locator("h1").inner_text() == "Roles"
        assert not main_menu(page).get_by_role("link", name="Events").is_visible()


def test_the_menu_is_one_row_without_a_toggle_on_a_desktop(browser, server):
    page = open_signed_in(browser, server)
    header = page.locator("header.site-header")
    assert not header.locator("summary", has_text="Menu").is_visible()
    events = main_menu(page).get_by_role("link", name="Events")
    sign_out = header.get_by_role("button", name="Sign out")
    assert events.is_visible() and sign_out.is_visible()
    assert abs(events.bounding_box()["y"] - page.locator(".brand").bounding_box()["y"]) < 10


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_main(browser, server):
    for viewport in (PHONE, DESKTOP):
        page = open_signed_in(browser, server, viewport=viewport)
        page.goto("/settings/users")
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "[document.activeElement.textContent, document.activeElement.getAttribute('href')]"
        )
        assert focused == ["Skip to main content", "#main"]
        assert page.locator(".skip-link").is_visible()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        assert page.evaluate("document.activeElement.tagName") == "MAIN"
        page.keyboard.press("Tab")  # the next stop is inside main, not back in the header
        assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


# --- Item 4, second half: long unbroken text wraps -------------------------------------------


@pytest.fixture()
def long_text(server, admin) -> Iterator[int]:
    """An 80-character unbroken group name and a message with a 300-character URL, maintenance
    on; afterwards maintenance off and the group gone."""
    created(
        form_post(
            admin, server.url + "/settings/groups/new", {"name": WRAP_GROUP, "description": ""}
        )
    )
    group_id = first_id(
        admin, server.url + "/settings/groups", r'href="/settings/groups/(\d+)">' + WRAP_GROUP
    )
    bypass = (
        "--bypass-role",
        "Administrator",
        "--bypass-group",
        "Administrators",
        "--bypass-group",
        WRAP_GROUP,
    )
    flask(server.env, "maintenance", "enable", "--message", WRAP_MESSAGE, *bypass)
    try:
        yield group_id
    finally:
        flask(server.env, "maintenance", "disable")
        edit = f"{server.url}/settings/groups/{group_id}"
        token = csrf_from(admin.get(edit, timeout=10).text)
        admin.post(edit + "/delete", data={"csrf_token": token}, timeout=10)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_long_unbroken_text_wraps_instead_of_widening_the_page(
    browser, server, long_text, viewport
):
    page = open_signed_in(browser, server, viewport=viewport)
    pages = [
        "/",
        "/settings/groups",
        f"/settings/groups/{long_text}",
        "/settings/users/new",
        "/settings/maintenance",
        "/settings/client-settings",
    ]
    wide = {}
    for url in pages:
        page.goto(url)
        assert WRAP_MESSAGE in page.locator("#maintenance-banner").inner_text(), url
        if too_wide(page):
            wide[url] = too_wide(page)
    assert WRAP_GROUP in page.goto("/settings/maintenance").text()
    visitor = open_page(browser, server, viewport=viewport)
    visitor.goto("/auth/login")
    assert WRAP_MESSAGE in visitor.locator("main").inner_text()
    if too_wide(visitor):
        wide["/auth/login"] = too_wide(visitor)
    assert not wide, f"pages wider than the {viewport['width']} px window: {wide}"
