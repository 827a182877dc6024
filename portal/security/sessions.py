"""Sessions that end: each sign-in is a row; the cookie names it, so deleting it ends the session.

Flask-Login stores ``User.get_id()`` in the session and in the remember-me cookie. Here that id
is ``"<user id>:<token>"`` and the database keeps the token's digest: signing out deletes the
row (a copied session or remember-me cookie stops working), and changing a password,
deactivating or removing a user deletes all their rows.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.clock import utc_now
from portal.extensions import db
from portal.inputs import parse_id
from portal.models import User, UserSession

_rows = UserSession.__table__


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, keep_for: timedelta) -> None:
    """Open a fresh session for ``user``; ``user.get_id()`` then names it (caller commits)."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    # Rows older than the longest remember-me cookie can no longer be used: drop the user's.
    db.session.execute(
        sa.delete(_rows).where(_rows.c.user_id == user.id, _rows.c.created_at < now - keep_for)
    )
    db.session.execute(sa.insert(_rows).values(id=_digest(token), user_id=user.id, created_at=now))
    user.session_token = token


def load(session_id: str) -> User | None:
    """Return the active user whose open session ``session_id`` names, else None."""
    text, _, token = session_id.partition(":")
    user_id = parse_id(text)
    if user_id is None or not token:
        return None
    user = db.session.scalar(
        sa.select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.id == _digest(token), User.id == user_id, User.active.is_(True))
    )
    if user is not None:
        user.session_token = token
    return user


def end(user: User) -> None:
    """End the session ``user`` was loaded with (signing out)."""
    token = getattr(user, "session_token", None)
    if token:
        db.session.execute(sa.delete(_rows).where(_rows.c.id == _digest(token)))


def end_all(user: User) -> None:
    """End every session of ``user`` (a password change, a deactivation) except the one this
    object was loaded for: a user who changes their own password stays signed in there."""
    query = sa.delete(_rows).where(_rows.c.user_id == user.id)
    token = getattr(user, "session_token", None)
    if token:
        query = query.where(_rows.c.id != _digest(token))
    db.session.execute(query)
