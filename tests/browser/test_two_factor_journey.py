"""Two-factor sign-in and open sessions in Chromium: enrol by reading the secret off the page and
computing a code, sign in with a code and with a recovery code, sign out another session."""

import time

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.pages import submit_sign_in
from tests.browser.test_accessibility import serious_violations
from tests.live import ADMIN_PASSWORD, flask

pytestmark = pytest.mark.browser

USER = "totp-journey@example.com"


def second_step(page, code: str) -> None:
    page.wait_for_url("**/auth/two-factor**")
    page.locator("[name=code]").fill(code)
    page.locator("form:has([name=code]) [type=submit]").click()
    page.wait_for_load_state()


def next_code(secret: str, used: set[str]) -> str:
    """Return the current code, waiting for the next time step when it was used already."""
    totp = pyotp.TOTP(secret)
    while totp.now() in used:
        time.sleep(1)
    code = totp.now()
    used.add(code)
    return code


def test_enrol_sign_in_with_codes_and_sign_out_another_session(live_server, new_page):
    flask(
        live_server.env, "users", "create", USER, "--password", ADMIN_PASSWORD,
        "--role", "Operator", "--group", "Administrators",
    )  # fmt: skip
    axe = Axe()
    laptop, phone = new_page(), new_page()
    for page in (laptop, phone):
        submit_sign_in(page, USER)
        page.wait_for_url(lambda url: "/auth/login" not in url)

    # Enrol on the laptop: the secret is read from the page, the code computed from it.
    laptop.goto("/account/two-factor")
    assert laptop.locator("#two-factor-qr svg").count() == 1
    assert serious_violations(axe, laptop) == []
    secret = laptop.locator("#two-factor-secret").input_value()
    used: set[str] = set()
    laptop.locator("[name=code]").fill(next_code(secret, used))
    laptop.locator("form:has([name=code]) [type=submit]").click()
    laptop.wait_for_url("**/account/two-factor/recovery-codes")
    codes = laptop.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    assert serious_violations(axe, laptop) == []
    laptop.locator("#dismiss-reveal [type=submit]").click()
    laptop.wait_for_url("**/account/two-factor")
    assert laptop.locator("#two-factor-on").count() == 1

    # Enrolling signed the phone out: it signs in again, now with a code.
    phone.goto("/")
    assert "/auth/login" in phone.url
    submit_sign_in(phone, USER)
    assert serious_violations(axe, phone) == []
    second_step(phone, next_code(secret, used))
    assert "/auth/" not in phone.url

    # The laptop signs out the phone from its sessions page.
    laptop.goto("/account/sessions")
    assert serious_violations(axe, laptop) == []
    rows = laptop.locator("#sessions-table tbody tr")
    assert rows.count() == 2
    laptop.locator("#sessions-table form [type=submit]").click()
    laptop.wait_for_load_state()
    assert laptop.locator("#sessions-table tbody tr").count() == 1
    phone.goto("/")
    assert "/auth/login" in phone.url

    # A recovery code signs in once.
    submit_sign_in(phone, USER)
    second_step(phone, codes[0])
    assert "/auth/" not in phone.url
    phone.locator("form[action='/auth/logout'] [type=submit]").first.click()
    phone.wait_for_url("**/auth/login")
    submit_sign_in(phone, USER)
    second_step(phone, codes[0])
    assert "used already" in phone.locator("#login-error").inner_text()
