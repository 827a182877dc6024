"""Signing in through the real form, as every browser test does."""

from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD


def submit_sign_in(
    page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, *, remember: bool = False
) -> None:
    """Fill in and send the sign-in form; a refused sign-in leaves the page on the form."""
    page.goto("/auth/login")
    page.locator("[name=email]").fill(email)
    page.locator("[name=password]").fill(password)
    page.locator("[name=remember]").set_checked(remember)
    page.locator("form:has([name=password]) [type=submit]").click()
    page.wait_for_load_state()


def sign_in(page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD):
    """Sign in and wait until the browser has left the sign-in page; return the page."""
    submit_sign_in(page, email, password)
    page.wait_for_url(lambda url: "/auth/login" not in url)
    return page
