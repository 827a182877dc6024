"""Password reset by email: single-use links that expire, and the throttle on asking for one.

A link's token is random; the database keeps its digest (``PasswordReset``) and a digest of the
password hash it was issued for. It works once, for ``LIFETIME``, and dies when a newer link is
sent or the password changes (the stored digest no longer matches). Asking is throttled per
requesting address (the sign-in throttle) and per email address (``PASSWORD_RESET_THROTTLE``),
counted for every request whether the account exists or not, so neither the answer nor the
throttle tells whether an account exists.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal import accounts, audit
from portal.core.clock import utc_now
from portal.extensions import db
from portal.mail import outbox
from portal.mail.messages import public_url, render
from portal.models import PasswordReset, SignInFailure, User
from portal.security import signins

LIFETIME = timedelta(minutes=30)
TOPIC = "password-reset"
_rows = PasswordReset.__table__


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _marker(user: User) -> str:
    return _digest(f"password-reset {user.password_hash}")


def _keys(address: str, email: str) -> tuple[str, str]:
    # Rows of the sign-in failure table under their own keys: they count toward no sign-in rule.
    return f"reset {address}"[:64], f"reset-to {_digest(accounts.normalize_email(email))[:40]}"


def wait_for(address: str, email: str, now: datetime) -> int:
    """Return the seconds before ``address`` may ask again for ``email`` (0: now)."""
    by_address, by_email = _keys(address, email)
    rule = current_app.config["PASSWORD_RESET_THROTTLE_PARSED"]
    return max(signins.throttled_for(by_address, now), signins.throttled_for(by_email, now, rule))


def request_link(email: str, address: str, now: datetime | None = None) -> None:
    """Count the request and, for an active account, send a new link (the caller commits)."""
    now = now or utc_now()
    rows = SignInFailure.__table__
    db.session.execute(
        sa.insert(rows),
        [{"at": now, "address": key, "user_id": None} for key in _keys(address, email)],
    )
    user = accounts.find_user(email)
    if user is None or not user.active:
        return
    token = secrets.token_urlsafe(32)
    db.session.execute(sa.delete(_rows).where(_rows.c.user_id == user.id))  # older links die
    db.session.execute(
        sa.insert(_rows).values(
            id=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + LIFETIME,
            password_marker=_marker(user),
        )
    )
    link = public_url(f"/auth/reset/{token}")
    minutes = int(LIFETIME.total_seconds() // 60)
    message = render(
        "password_reset", "Reset your password", link=link, email=user.email, minutes=minutes
    )
    outbox.enqueue(TOPIC, user.email, message)
    audit.record(
        user,
        "auth",
        "reset_requested",
        f"Password reset link sent (asked from {address})",
        client_id=user.client_id,
    )


def holder(token: str, now: datetime | None = None) -> User | None:
    """Return the active user a valid, unused, unexpired link belongs to, else None."""
    if not token or len(token) > 128:
        return None
    row = db.session.execute(sa.select(_rows).where(_rows.c.id == _digest(token))).first()
    if row is None or row.expires_at <= (now or utc_now()):
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active or row.password_marker != _marker(user):
        return None
    return user


def complete(user: User, password: str, lang: str = "en") -> None:
    """Set ``user``'s new password (the client's rule and zxcvbn), end all their sessions and
    every link of theirs; raise ``accounts.AccountError`` when the password is refused."""
    accounts.set_password(user, password, lang)  # also ends every session of the account
    db.session.execute(sa.delete(_rows).where(_rows.c.user_id == user.id))
    audit.record(user, "users", "password", "Reset own password by email", client_id=user.client_id)
