"""The maintenance page's traps (issue 13, items 1, 2 and the message limit of 4), in Chromium.

The restriction of the event processor reads as part of maintenance and says what it will do;
an instance-wide change is reviewed (with its effect counted from the database) before it is
applied, with or without JavaScript; a 2,000-character message with line breaks is saved.

Runs on the package's shared server: every test leaves maintenance as it found it.
"""

import re
from datetime import timedelta

import pytest

from portal.core.clock import utc_now
from tests.browser.pages import sign_in as signed_in
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    flask,
    maintenance_status,
    post_events,
)

pytestmark = pytest.mark.browser

CLIENT = "mpage Other Client"
BLOCKED = "mpage-blocked@example.com"  # Default client, blocked (no bypass role)
IDLE = "mpage-idle@example.com"  # Default client, blocked, never signed in
OTHER = "mpage-other@example.com"  # the other client, blocked
ADMIN_BYPASS = {"bypass_roles": ["Administrator"], "bypass_groups": ["Administrators"]}


@pytest.fixture(scope="module")
def people(live_server) -> None:
    """Two blocked users of the admin's client and one of another client."""
    env = live_server.env
    flask(env, "clients", "create", CLIENT)
    for email, client in ((BLOCKED, None), (IDLE, None), (OTHER, CLIENT)):
        extra = ("--client", client) if client else ()
        flask(
            env,
            "users",
            "create",
            email,
            "--password",
            ADMIN_PASSWORD,
            "--role",
            "Viewer",
            "--group",
            "Administrators",
            *extra,
        )


@pytest.fixture()
def admin(new_page, live_server, people):
    """The admin's page; the maintenance state is put back as it was after the test."""
    before = maintenance_status(live_server.env)
    page = signed_in(new_page(), ADMIN_EMAIL)
    yield page
    restore(page, live_server.env, before)


def restore(page, env: dict, before: dict) -> None:
    """Put the state back through the page (the CLI cannot untick the restriction while off)."""
    flask(env, "maintenance", "disable")
    if maintenance_status(env)["scheduled_start"]:
        flask(env, "maintenance", "unschedule")
    fill(page, enabled=False, restrict=before["restrict_event_processor"])
    fill_message_and_bypass(page, before["message"], before)
    form_of(page).locator("[name=notice_minutes]").fill(str(before["notice_minutes"]))
    review(page)
    if page.locator("#review-nothing").count() == 0:
        page.get_by_role("button", name="Confirm and apply").click()
        page.locator(".flash-success").wait_for()
    after = maintenance_status(env)
    for name in ("enabled", "restrict_event_processor", "message", "bypass_roles"):
        assert after[name] == before[name], name


def form_of(page):
    return page.locator("#maintenance-form")


def fill(page, *, enabled: bool, restrict: bool):
    page.goto("/settings/maintenance")
    form = form_of(page)
    form.locator("[name=enabled]").set_checked(enabled)
    form.locator("[name=restrict_event_processor]").set_checked(restrict)
    return form


def fill_message_and_bypass(page, message: str, selection: dict) -> None:
    form = form_of(page)
    form.locator("[name=message]").fill(message)
    for name in ("bypass_roles", "bypass_groups"):
        fieldset = form.locator(f"#{name}-fieldset")
        for box in fieldset.locator("input[type=checkbox]").all():
            label = fieldset.locator(f"label[for='{box.get_attribute('id')}']").inner_text()
            box.set_checked(label in selection[name])


def review(page) -> None:
    form_of(page).get_by_role("button", name="Review changes").click()
    page.locator("#review-summary").wait_for()


def review_and_confirm(page) -> None:
    review(page)
    page.get_by_role("button", name="Confirm and apply").click()
    page.locator(".flash-success").wait_for()


def number(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return int(match.group(1))


def test_restrict_option_is_part_of_maintenance_and_says_what_happens_next(admin, live_server):
    if maintenance_status(live_server.env)["restrict_event_processor"]:
        fill(admin, enabled=False, restrict=False)  # start from the restriction off
        review_and_confirm(admin)
    admin.goto("/settings/maintenance")
    switch = admin.locator("#maintenance-switch")
    # the option sits with the switch it depends on, and states its effect now
    assert switch.locator("[name=enabled]").count() == 1
    assert switch.locator("[name=restrict_event_processor]").count() == 1
    assert "Maintenance is off: processing runs" in switch.inner_text()

    fill(admin, enabled=False, restrict=True)
    review(admin)
    assert "when maintenance is next turned on, processing will pause" in (
        admin.locator("#review-restrict-later").inner_text()
    )
    admin.get_by_role("button", name="Confirm and apply").click()

    flash = admin.locator(".flash-success").inner_text()
    assert "Maintenance mode is off; when it is next turned on, event processing will be" in flash
    assert maintenance_status(live_server.env)["restrict_event_processor"] is True
    assert maintenance_status(live_server.env)["enabled"] is False
    effect = admin.locator("#restrict-effect").inner_text()
    assert "Maintenance is off: processing runs; when maintenance is next turned on, " in effect
    assert "processing will pause and events will be held" in effect
    assert admin.locator("#status-processing").inner_text() == "Running"


def test_review_counts_what_enabling_does_and_confirm_applies(admin, new_page, live_server):
    def signed_out_on_review() -> int:
        fill(admin, enabled=True, restrict=True)
        fill_message_and_bypass(admin, "mpage review", ADMIN_BYPASS)
        review(admin)
        return number(admin.locator("#review-signed-out").inner_text(), r"(\d+) signed-in user")

    before = signed_out_on_review()
    blocked_tab = signed_in(new_page(), BLOCKED)  # a live session the change would end
    assert signed_out_on_review() == before + 1
    assert maintenance_status(live_server.env)["enabled"] is False  # reviewing saves nothing

    paused = admin.locator("#review-paused").inner_text()
    assert number(paused, r"for (\d+) clients?") >= 2  # Default and the other client at least
    own_blocked = admin.locator("#review-own-blocked").inner_text()
    assert BLOCKED in own_blocked and IDLE in own_blocked
    assert ADMIN_EMAIL in admin.locator("#review-own-allowed").inner_text()
    other = admin.locator("#review-other-clients tr", has_text=CLIENT)
    assert other.locator("td").all_inner_texts() == [CLIENT, "0", "1"]  # a count, no names
    assert OTHER not in admin.locator("main").inner_text()

    admin.get_by_role("button", name="Confirm and apply").click()
    admin.locator(".flash-success").wait_for()
    state = maintenance_status(live_server.env)
    assert state["enabled"] is True and state["restrict_event_processor"] is True
    blocked_tab.goto("/")
    assert "/auth/login" in blocked_tab.url

    # lifting it: the held events are counted before they are released
    post_events(live_server.url, live_server.api_key, [{"type": "mpage.held", "payload": {}}] * 3)
    fill(admin, enabled=False, restrict=True)
    review(admin)
    released = admin.locator("#review-released").inner_text()
    assert number(released, r"(\d+) held events?") >= 3
    assert "Turns maintenance mode off" in admin.locator("#review-ends").inner_text()
    admin.get_by_role("button", name="Confirm and apply").click()
    admin.locator(".flash-success").wait_for()
    assert maintenance_status(live_server.env)["enabled"] is False


def test_review_works_without_javascript(browser, live_server, people):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = signed_in(context.new_page(), ADMIN_EMAIL)
    before = maintenance_status(live_server.env)
    try:
        # nothing changed: the review says so
        page.goto("/settings/maintenance")
        review(page)
        assert "Nothing would change" in page.locator("#review-nothing").inner_text()
        assert page.get_by_role("button", name="Confirm and apply").count() == 0

        # a refusal (lockout) shows on the review step, before any confirmation
        fill(page, enabled=True, restrict=False)
        viewer_only = {"bypass_roles": ["Viewer"], "bypass_groups": ["Administrators"]}
        fill_message_and_bypass(page, "mpage no js", viewer_only)
        form_of(page).get_by_role("button", name="Review changes").click()
        assert "you would lock yourself out" in page.locator("#lockout-error").inner_text()
        assert page.locator("#review-summary").count() == 0

        # a scheduled start: nothing changes until then; Back to edit keeps every value
        start = utc_now() + timedelta(hours=3)
        fill(page, enabled=False, restrict=True)
        fill_message_and_bypass(page, "mpage line one\nline two", ADMIN_BYPASS)
        form_of(page).locator("[name=scheduled_start]").fill(f"{start:%Y-%m-%dT%H:%M}")
        form_of(page).locator("[name=notice_minutes]").fill("45")
        review(page)
        scheduled = page.locator("#review-scheduled").inner_text()
        assert f"Nothing changes until the start at {start:%Y-%m-%d %H:%M} UTC" in scheduled
        notice = start - timedelta(minutes=45)
        assert f"from {notice:%Y-%m-%d %H:%M} UTC" in scheduled
        assert page.locator("#review-paused").count() == 1
        page.get_by_role("button", name="Back to edit").click()
        form = form_of(page)
        assert form.locator("[name=scheduled_start]").input_value() == f"{start:%Y-%m-%dT%H:%M}"
        assert form.locator("[name=notice_minutes]").input_value() == "45"
        assert form.locator("[name=message]").input_value() == "mpage line one\nline two"
        assert form.locator("[name=restrict_event_processor]").is_checked()
        assert maintenance_status(live_server.env)["scheduled_start"] is None

        # confirm applies what was reviewed, line break included
        review(page)
        page.get_by_role("button", name="Confirm and apply").click()
        assert "will start by itself" in page.locator(".flash-success").inner_text()
        state = maintenance_status(live_server.env)
        assert state["scheduled_start"] is not None and state["notice_minutes"] == 45
        assert state["message"] == "mpage line one\nline two"
    finally:
        restore(page, live_server.env, before)
        context.close()


def test_a_2000_character_message_with_line_breaks_saves_and_is_counted(admin, live_server):
    line = "mpage " + "x" * 93  # 99 characters and a line break: 100
    message = ("\n".join([line] * 20) + "y")[:2000]
    assert len(message) == 2000 and message.count("\n") == 19
    admin.goto("/settings/maintenance")
    form = form_of(admin)
    counter = admin.locator("#message-counter")
    form.locator("[name=message]").fill("")
    assert counter.inner_text() == "0 / 2000 characters"
    form.locator("[name=message]").fill(message)
    assert counter.inner_text() == "2000 / 2000 characters"
    form.locator("[name=message]").press("End")
    form.locator("[name=message]").press("z")  # the browser's limit is the server's
    assert counter.inner_text() == "2000 / 2000 characters"

    review_and_confirm(admin)
    assert maintenance_status(live_server.env)["message"] == message
    assert admin.locator("#message-counter").inner_text() == "2000 / 2000 characters"


def test_review_page_has_no_serious_axe_violation(browser, live_server, people):
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(base_url=live_server.url, bypass_csp=True)  # axe injects
    context.set_default_timeout(10_000)
    page = signed_in(context.new_page(), ADMIN_EMAIL)
    try:
        fill(page, enabled=True, restrict=True)
        fill_message_and_bypass(page, "mpage axe", ADMIN_BYPASS)
        review(page)
        assert page.locator("#review-who").count() == 1
        violations = Axe().run(page).response["violations"]
        serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == []
        assert maintenance_status(live_server.env)["message"] != "mpage axe"  # not applied
    finally:
        context.close()
