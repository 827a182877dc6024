"""Sessions that end: each sign-in is a row; the cookie names it, so deleting it ends the session.

Flask-Login stores ``User.get_id()`` in the session and in the remember-me cookie. Here that id
is ``"<user id>:<token>"`` and the database keeps the token's digest: signing out deletes the
row (a copied session or remember-me cookie stops working), and changing a password,
deactivating or removing a user deletes all their rows, and so do enrolling or resetting the
second factor (``portal.accounts.twofactor``). Each row also keeps the browser (User-Agent)
and address it signed in from and when it was last used, for ``/account/sessions``.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.core.inputs import parse_id
from portal.extensions import db
from portal.models import User, UserSession

_rows = UserSession.__table__


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# A session's "last seen" is written at most this often (not on every request).
SEEN_EVERY = timedelta(seconds=60)


def start(
    user: User, keep_for: timedelta, *, user_agent: str = "", address: str | None = ""
) -> None:
    """Open a fresh session for ``user``; ``user.get_id()`` then names it (caller commits)."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    # Rows older than the longest remember-me cookie can no longer be used: drop the user's.
    db.session.execute(
        sa.delete(_rows).where(_rows.c.user_id == user.id, _rows.c.created_at < now - keep_for)
    )
    row = {
        "id": _digest(token),
        "user_id": user.id,
        "created_at": now,
        "last_seen_at": now,
        "user_agent": (user_agent or "")[:255],
        "address": (address or "")[:64],
    }
    db.session.execute(sa.insert(_rows).values(**row))
    user.session_token = token


def load(session_id: str) -> User | None:
    """Return the active user whose open session ``session_id`` names, else None."""
    text, _, token = session_id.partition(":")
    user_id = parse_id(text)
    if user_id is None or not token:
        return None
    found = db.session.execute(
        sa.select(User, UserSession.last_seen_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.id == _digest(token), User.id == user_id, User.active.is_(True))
    ).first()
    if found is None:
        return None
    user, seen = found
    now = utc_now()
    if seen is None or seen < now - SEEN_EVERY:
        # Loaded first thing in the request (before any view writes): a transaction of its own.
        db.session.execute(
            sa.update(_rows).where(_rows.c.id == _digest(token)).values(last_seen_at=now)
        )
        db.session.commit()
    user.session_token = token
    return user


def digest_of(user: User) -> str | None:
    """Return the row id of the session ``user`` was loaded for (None outside a session)."""
    token = getattr(user, "session_token", None)
    return _digest(token) if token else None


def open_sessions(user: User) -> list[UserSession]:
    """Return ``user``'s open sessions, the most recently used first."""
    query = (
        sa.select(UserSession)
        .where(UserSession.user_id == user.id)
        .order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc())
    )
    return list(db.session.scalars(query))


def is_row_id(text: str) -> bool:
    """Return whether ``text`` looks like a session row id (a sha256 in lower-case hex)."""
    return len(text) == 64 and all(char in "0123456789abcdef" for char in text)


def end_by_id(user: User, row_id: str) -> bool:
    """End ``user``'s session whose row id is ``row_id``; return whether there was one."""
    ended = db.session.execute(
        sa.delete(_rows).where(_rows.c.user_id == user.id, _rows.c.id == row_id)
    )
    return ended.rowcount == 1


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
