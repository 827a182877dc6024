"""Sign-in refusals and the dashboard around maintenance, in a real browser (issue 13: items 3
and 5, and the banner's link to the maintenance page of item 13).

The package's live server is shared: the users made here have ``signin-`` addresses, and
maintenance is switched from the server shell (the public CLI, so these tests do not depend on
how the settings form asks for confirmation). The bypass lists only ever gain Administrator and
Administrators (the other browser tests select both), the message and the restriction are left
as found, and maintenance is off again after every test.
"""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from portal import accounts
from portal.extensions import db
from tests.browser.pages import submit_sign_in as sign_in
from tests.conftest import make_app
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, flask, maintenance_status, post_events

pytestmark = pytest.mark.browser

BYPASS = "signin-bypass@example.com"  # Administrator + Administrators: may sign in
BLOCKED = "signin-blocked@example.com"  # Viewer + Administrators: blocked
DEMOTED = "signin-demoted@example.com"  # may sign in until an admin takes the role away
WATCHER = "signin-watcher@example.com"  # dashboard:view and nothing else
WATCHER_ROLE = "signin-dashboard-only"
FOLLOW_MS = 12_000  # rule 13 says 5 s (test_maintenance_windows times it); slack for a busy machine


@pytest.fixture(scope="module")
def users(live_server) -> None:
    """Create this module's users once (from the shell, on the live server's database)."""
    flask(live_server.env, "roles", "create", WATCHER_ROLE, "--permission", "dashboard:view")
    for email, roles in (
        (BYPASS, ["Administrator"]),
        (BLOCKED, ["Viewer"]),
        (DEMOTED, ["Administrator", "Viewer"]),
        (WATCHER, [WATCHER_ROLE]),
    ):
        options = [option for role in roles for option in ("--role", role)]
        flask(
            live_server.env,
            "users",
            "create",
            email,
            "--password",
            ADMIN_PASSWORD,
            *options,
            "--group",
            "Administrators",
        )


@pytest.fixture()
def maintenance(live_server, users) -> Iterator[list[str]]:
    """Yield the CLI options that add Administrator + Administrators to the bypass lists;
    maintenance is off before and after the test."""
    before = maintenance_status(live_server.env)
    assert before["enabled"] is False
    roles = sorted({*before["bypass_roles"], "Administrator"})
    groups = sorted({*before["bypass_groups"], "Administrators"})
    yield [*(o for r in roles for o in ("--bypass-role", r))] + [
        *(o for g in groups for o in ("--bypass-group", g))
    ]
    flask(live_server.env, "maintenance", "disable")


def dashboard(new_page, email: str):
    page = new_page()
    sign_in(page, email)
    page.goto("/")
    assert "/auth/login" not in page.url, email
    return page


def state_text(page) -> str:
    return page.locator("#maintenance-state").inner_text()


# --- item 3: one refusal for everyone, worded for someone who mistyped -------------------------


def test_refusals_during_maintenance_read_the_same_and_say_to_check_the_password(
    new_page, live_server, maintenance
):
    flask(live_server.env, "maintenance", "enable", *maintenance)
    refusals = []
    for email, password in ((BYPASS, "not-the-password"), (BLOCKED, ADMIN_PASSWORD)):
        page = new_page()
        sign_in(page, email, password)
        assert "/auth/login" in page.url, email
        assert page.locator("#login-maintenance-message").is_visible()
        refusals.append(page.locator("#login-error").inner_text())
    assert refusals[0] == refusals[1]  # no oracle: who may bypass, or whose password was right
    assert re.search(r"check your email and password", refusals[0], re.I), refusals[0]
    assert "maintenance" in refusals[0]


# --- item 5: the dashboard ---------------------------------------------------------------------


def queued_figures(page) -> dict[str, int]:
    """Return the Default client's counters about waiting events: {label: value}."""
    page.reload()
    found = {}
    for counter in page.locator(".counters[data-client=Default] .counter").all():
        label = counter.locator(".label").inner_text().lower()
        if "queued" in label or "held" in label:
            found[label] = int(counter.locator(".value").inner_text())
    return found


def test_held_events_are_one_figure_with_its_state(new_page, live_server, maintenance):
    admin = dashboard(new_page, ADMIN_EMAIL)
    flask(live_server.env, "maintenance", "enable", "--restrict-events", *maintenance)
    try:
        held = post_events(
            live_server.url,
            live_server.api_key,
            [{"type": "signin.held", "payload": {"n": n}} for n in range(7)],
        )
        assert held["processing"] == "paused"
        figures = queued_figures(admin)
        # one figure: "Queued 7 — held by maintenance", not "Queued 7" and "Held 7" (reads as 14)
        assert sum(figures.values()) == 7, figures
        (label,) = figures
        assert "held by maintenance" in label
    finally:
        # lift the restriction (as found: off) so the held events drain before maintenance ends
        flask(live_server.env, "maintenance", "enable", "--no-restrict-events")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(queued_figures(admin).values()):
        time.sleep(0.5)
    assert queued_figures(admin) == {"queued": 0}
    last = requests.get(
        f"{live_server.url}/api/v1/events/{held['event_ids'][-1]}",
        headers={"X-API-Key": live_server.api_key},
        timeout=10,
    ).json()
    assert last["status"] == "processed"


def test_dashboard_only_user_sees_a_sentence_instead_of_empty_figures(new_page, users):
    page = dashboard(new_page, WATCHER)
    section = page.locator("#live-dashboard")
    assert "Figures as of" not in section.inner_text()
    note = section.locator("#no-figures")
    assert note.is_visible()
    assert "View events and deliveries" in note.inner_text()
    assert section.locator("#processor-state").is_visible()  # what they may see stays


def test_open_dashboard_follows_the_state_without_a_reload(new_page, live_server, maintenance):
    admin = dashboard(new_page, ADMIN_EMAIL)
    assert "Maintenance mode is off" in state_text(admin)
    flask(live_server.env, "maintenance", "enable", *maintenance)
    banner = admin.locator("#maintenance-banner")
    banner.wait_for(state="visible", timeout=FOLLOW_MS)
    admin.locator("#maintenance-state").filter(has_text="Maintenance mode is on").wait_for(
        timeout=FOLLOW_MS
    )
    assert "off" not in state_text(admin)
    flask(live_server.env, "maintenance", "disable")
    banner.wait_for(state="detached", timeout=FOLLOW_MS)
    admin.locator("#maintenance-state").filter(has_text="Maintenance mode is off").wait_for(
        timeout=FOLLOW_MS
    )


def test_blocked_users_open_dashboard_goes_to_the_login_page(new_page, live_server, maintenance):
    page = dashboard(new_page, BLOCKED)
    assert "Maintenance mode is off" in state_text(page)
    flask(live_server.env, "maintenance", "enable", *maintenance)
    page.wait_for_url(re.compile(r"/auth/login"), timeout=FOLLOW_MS)
    assert page.locator("#login-maintenance-message").is_visible()


def set_roles(live_server, folder: Path, email: str, roles: list[str]) -> None:
    """Change a user's roles as an admin's save would (the domain layer, on the live database)."""
    uri = live_server.env["PORTAL_SQLALCHEMY_DATABASE_URI"]
    app = make_app(Path(uri.removeprefix("sqlite:///")), folder / "instance")
    with app.app_context():
        accounts.find_user(email).roles = accounts.find_roles(roles)
        db.session.commit()
        db.engine.dispose()


def test_dashboard_of_a_user_blocked_by_a_change_of_roles_goes_to_the_login_page(
    new_page, live_server, maintenance, tmp_path
):
    flask(live_server.env, "maintenance", "enable", *maintenance)
    page = dashboard(new_page, DEMOTED)
    assert "Maintenance mode is on" in state_text(page)
    set_roles(live_server, tmp_path, DEMOTED, ["Viewer"])  # the state itself does not change
    try:
        page.wait_for_url(re.compile(r"/auth/login"), timeout=FOLLOW_MS)
        assert page.locator("#login-maintenance-message").is_visible()
    finally:
        set_roles(live_server, tmp_path, DEMOTED, ["Administrator", "Viewer"])


# --- item 13: the banner links to the maintenance page for those who may manage it -------------


def test_maintenance_banner_links_managers_to_the_maintenance_page(
    new_page, live_server, maintenance
):
    admin = dashboard(new_page, ADMIN_EMAIL)
    flask(live_server.env, "maintenance", "enable", *maintenance)
    # the banner arrives through the live poll (its partial), then on a fresh page load
    link = admin.locator("#maintenance-banner a[href$='/settings/maintenance']")
    link.wait_for(timeout=FOLLOW_MS)
    admin.goto("/")
    admin.locator("#maintenance-banner a[href$='/settings/maintenance']").click()
    admin.wait_for_url(re.compile(r"/settings/maintenance$"))
    assert admin.locator("[name=enabled]").is_checked()


def test_advance_notice_links_only_managers_to_the_maintenance_page(
    new_page, live_server, maintenance
):
    admin, blocked = dashboard(new_page, ADMIN_EMAIL), dashboard(new_page, BLOCKED)
    at = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(time.time() + 3600))
    flask(
        live_server.env,
        "maintenance",
        "schedule",
        "--at",
        at,
        "--notice-minutes",
        "120",
        *maintenance,
    )
    try:
        for page in (admin, blocked):
            page.locator("#maintenance-notice").wait_for(timeout=FOLLOW_MS)
        link = "#maintenance-notice a[href$='/settings/maintenance']"
        assert admin.locator(link).count() == 1
        assert blocked.locator(link).count() == 0
        blocked.reload()
        assert blocked.locator("#maintenance-notice").is_visible()
        assert blocked.locator(link).count() == 0
    finally:
        flask(live_server.env, "maintenance", "unschedule")
