"""Helpers for the sign-in security tests: lock an account for an address, age failures."""

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from portal import accounts
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import SignInFailure

TEST_CLIENT_ADDRESS = "127.0.0.1"  # what Flask's test client reports as REMOTE_ADDR


def lock_out(app: Flask, email: str, address: str = TEST_CLIENT_ADDRESS) -> None:
    """Record the client's retry limit of wrong passwords for ``email`` from ``address``."""
    with app.app_context():
        user = accounts.find_user(email)
        now = utc_now()
        for _ in range(user.client.password_retry_limit):
            db.session.add(SignInFailure(at=now, address=address, user_id=user.id))
        user.failed_logins = user.client.password_retry_limit
        user.locked_until = now + timedelta(minutes=user.client.lockout_minutes)
        db.session.commit()


def age_failures(app: Flask, by: timedelta) -> None:
    """Move every recorded failed sign-in ``by`` into the past (time passing)."""
    with app.app_context():
        # In Python: SQLite has no datetime arithmetic for SQLAlchemy's DateTime strings.
        for failure in db.session.scalars(sa.select(SignInFailure)):
            failure.at -= by
        db.session.commit()


def failures(app: Flask, address: str | None = None) -> int:
    """Return how many failed sign-ins are recorded (from ``address``, when given)."""
    with app.app_context():
        query = sa.select(sa.func.count()).select_from(SignInFailure)
        if address is not None:
            query = query.where(SignInFailure.address == address)
        return db.session.scalar(query)
