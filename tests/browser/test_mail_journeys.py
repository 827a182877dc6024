"""Mail in a real browser, on its own server sending to a real SMTP server (aiosmtpd) in this
process: the password reset from the emailed link, and the maintenance notice of a blocked and
of a bypass user (issue 20)."""

import re
import time
from collections.abc import Iterator

import pytest

from tests.browser.pages import sign_in, submit_sign_in
from tests.live import ADMIN_EMAIL, flask, free_port, prepare_db, serving
from tests.smtp import Received, SMTPServer

pytestmark = pytest.mark.browser

USER = "mail.forgetful@example.com"
FIRST, NEW = "mail-first-walnut-lantern-37", "mail-second-harbour-kestrel-58"


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory, smtp_server):
    folder = tmp_path_factory.mktemp("mail-browser")
    port = free_port()
    env = prepare_db(
        folder / "portal.db",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        MAIL_FROM="portal@example.com",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    flask(
        env,
        "users",
        "create",
        USER,
        "--password",
        FIRST,
        "--role",
        "Viewer",
        "--group",
        "Administrators",
    )
    with serving(env, folder, port=port) as server:
        yield server


@pytest.fixture()
def fresh_page(browser, mail_server):
    contexts = []

    def factory():
        context = browser.new_context(base_url=mail_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


def wait_for_mail(smtp: SMTPServer, address: str, count: int = 1, timeout: float = 30) -> list:
    """Wait (a functional deadline) until the processor has sent ``count`` messages."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        received = smtp.to(address)
        if len(received) >= count:
            return received
        time.sleep(0.2)
    raise AssertionError(f"no email to {address} after {timeout}s: {smtp.received}")


def show(page, received: Received) -> None:
    page.set_content(received.part("html"))


def test_reset_from_the_emailed_link(fresh_page, smtp_server, mail_server):
    page = fresh_page()
    page.goto("/auth/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.locator("[name=email]").fill(USER)
    page.get_by_role("button", name="Send me a link").click()
    assert (
        "If an account with this email address exists" in page.locator("#reset-sent").inner_text()
    )
    mail = wait_for_mail(smtp_server, USER)[-1]
    show(page, mail)
    link = page.locator("#reset-link")
    href = link.get_attribute("href")
    assert re.fullmatch(re.escape(mail_server.url) + r"/auth/reset/[\w-]+", href)
    link.click()
    page.wait_for_url(href)
    page.locator("[name=new_password]").fill(NEW)
    page.locator("[name=confirm]").fill(NEW)
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_url(re.compile(r"/auth/login"))
    assert "Your password has been changed" in page.content()
    page.goto(href)  # the link worked once
    assert "This link no longer works" in page.locator("#reset-invalid").inner_text()
    submit_sign_in(page, USER, FIRST)
    assert "/auth/login" in page.url  # the old password is gone
    sign_in(page, USER, NEW)


def test_the_notice_email_of_a_blocked_and_of_a_bypass_user(fresh_page, smtp_server):
    admin = sign_in(fresh_page())
    admin.goto("/settings/maintenance")
    admin.locator("[name=enabled]").check()
    admin.get_by_label("Administrator", exact=True).check()
    admin.get_by_label("Administrators", exact=True).check()
    admin.locator("[name=message]").fill("Moving to the new cluster.")
    assert admin.locator("[name=email_users]").is_checked()  # on by default: mail is set up
    admin.get_by_role("button", name="Review changes").click()
    assert "Sends 2 emails to affected users" in admin.locator("#review-emails").inner_text()
    admin.get_by_role("button", name="Confirm and apply").click()
    admin.wait_for_url(re.compile(r"/settings/maintenance$"))
    blocked = wait_for_mail(smtp_server, USER, 2)[-1]  # after the reset link
    bypass = wait_for_mail(smtp_server, ADMIN_EMAIL)[-1]
    page = fresh_page()
    show(page, blocked)
    assert page.locator("#notice-lead").inner_text() == "Maintenance of Gateway Portal has started."
    assert "you cannot sign in" in page.locator("#notice-effect").inner_text()
    assert page.locator("#notice-message").inner_text() == "Moving to the new cluster."
    body = page.locator("body").inner_text()
    assert "Administrator" not in body and "keep working" not in body  # no selection leaks
    show(page, bypass)
    assert "may keep working" in page.locator("#notice-effect").inner_text()
    assert blocked.message["Subject"] == "[Gateway Portal] Maintenance has started"
