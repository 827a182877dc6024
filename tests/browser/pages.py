"""Signing in through the real form, as every browser test does."""

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.models.tables import jobs
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


def add_bulk_job(env: dict[str, str], client_id: int = 1) -> int:
    """Store a bulk job of the events page straight in the server's database (a page to
    open, whatever the rows); return its id."""
    engine = sa.create_engine(env["PORTAL_SQLALCHEMY_DATABASE_URI"])
    row = {
        "action": "retry",
        "selection": {"event_ids": []},
        "client_ids": [client_id],
        "status": "waiting",
        "expected": 3,
        "done": 0,
        "skipped": 0,
        "cursor": 0,
        "created_at": utc_now(),
    }
    with engine.begin() as connection:
        job_id = connection.execute(sa.insert(jobs).values(row)).inserted_primary_key[0]
    engine.dispose()
    return job_id
