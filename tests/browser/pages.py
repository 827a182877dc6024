"""Signing in through the real form, as every browser test does, and data the pages show."""

import sqlite3
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.models.tables import jobs
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD

# A window's history: (queued, calls in flight, deliveries finished so far, failed so far), 10 s
# apart
SAMPLES = [(0, 0, 0, 0), (12, 0, 0, 0), (25, 0, 0, 0), (25, 0, 0, 0), (18, 4, 7, 1)]
SAMPLES += [(6, 5, 19, 3), (0, 2, 25, 3), (0, 0, 25, 3)]
STAMP = "%Y-%m-%d %H:%M:%S.%f"


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


def script_window(db_file: Path) -> None:
    """Move the window to have run from 3 to 1 minute ago and store its samples."""
    now = utc_now().replace(microsecond=0)
    start, end = now - timedelta(minutes=3), now - timedelta(minutes=1)
    with sqlite3.connect(db_file) as db:
        db.execute(
            "UPDATE maintenance_windows SET started_at = ?, ended_at = ?",
            (start.strftime(STAMP), end.strftime(STAMP)),
        )
        db.execute(
            "UPDATE maintenance_restriction_periods SET started_at = ?, ended_at = ?,"
            " drained_at = ?",
            (
                start.strftime(STAMP),
                (end - timedelta(seconds=30)).strftime(STAMP),
                end.strftime(STAMP),
            ),
        )
        db.executemany(
            "INSERT INTO history_samples (taken_at, client_id, step, queued, in_flight,"
            " delivered, failed, restricted) VALUES (?, NULL, 10, ?, ?, ?, ?, ?)",
            [
                ((start + timedelta(seconds=10 * (n + 1))).strftime(STAMP), *figures, n < 4)
                for n, figures in enumerate(SAMPLES)
            ],
        )
