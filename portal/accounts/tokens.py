"""Personal access tokens: a person's credential for deploy scripts and recovery tools.

A token carries **scopes**; each scope works only while its user holds the permission behind
it (checked when the token is made and again on every use, so taking a role away takes the
scope away at once). Tokens begin with ``gpat_``, are shown once and stored as a sha256 digest
(they are long random values, so an indexed digest is safe to look up, as for API keys).
Deleting a user deletes their tokens (the foreign key); deactivating one revokes them.

Functions add to the session and flush; the caller commits its unit of work.
"""

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import sqlalchemy as sa

from portal import audit
from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE, EVENTS_VIEW, WORKFLOWS_MANAGE
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import PersonalAccessToken, Role, User
from portal.models.accounts import user_roles

PREFIX = "gpat_"
MODULE = "tokens"
MAINTENANCE_READ = "maintenance:read"
MAINTENANCE_WRITE = "maintenance:write"
EVENTS_READ = "events:read"
EVENTS_WRITE = "events:write"
# scope -> the permission its user must hold for it to work (None: any signed-in user)
SCOPES: dict[str, str | None] = {
    MAINTENANCE_READ: None,
    MAINTENANCE_WRITE: CLIENT_SETTINGS_MANAGE,
    EVENTS_READ: EVENTS_VIEW,
    EVENTS_WRITE: WORKFLOWS_MANAGE,
}
SCOPE_LABELS = {
    MAINTENANCE_READ: "Read the maintenance state",
    MAINTENANCE_WRITE: "Change maintenance mode (needs client_settings:manage)",
    EVENTS_READ: "List events (needs events:view)",
    EVENTS_WRITE: "Replay events, retry deliveries, resume endpoints (needs workflows:manage)",
}
DEFAULT_DAYS = 30
MAX_DAYS = 365
MAX_NAME = 80
# A token's last use is written at most this often per address (a read call stays a read).
LAST_USED_EVERY = timedelta(seconds=60)


class TokenError(ValueError):
    """A token that may not be made; ``field`` names the input it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def scope_works(user: User, scope: str) -> bool:
    """Return whether ``scope`` works for ``user`` now: they hold the permission behind it."""
    return permits(user.permissions, scope)


def permits(permissions: Collection[str], scope: str) -> bool:
    """Return whether a holder of ``permissions`` may use ``scope``."""
    needed = SCOPES.get(scope, "")
    return needed is None or (needed != "" and needed in permissions)


def grantable(user: User) -> list[str]:
    """Return the scopes ``user`` may put on a token, in catalogue order."""
    return [scope for scope in SCOPES if scope_works(user, scope)]


def tokens_of(user_id: int) -> list[PersonalAccessToken]:
    """Return a user's tokens, newest first (revoked and expired ones too)."""
    return list(
        db.session.scalars(
            sa.select(PersonalAccessToken)
            .where(PersonalAccessToken.user_id == user_id)
            .order_by(PersonalAccessToken.id.desc())
        )
    )


def find(user_id: int, name: str) -> PersonalAccessToken | None:
    """Return the user's token of this name that is not revoked, or None."""
    return db.session.scalar(
        sa.select(PersonalAccessToken).where(
            PersonalAccessToken.user_id == user_id,
            sa.func.lower(PersonalAccessToken.name) == (name or "").strip().lower(),
            PersonalAccessToken.revoked_at.is_(None),
        )
    )


def create(
    user: User, name: str, scopes: list[str], days: int | None, actor: User | None
) -> tuple[PersonalAccessToken, str]:
    """Make a token for ``user`` and return it with its secret (shown once); audited.

    ``actor`` is who makes it (the user, or None for the server shell).
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise TokenError(f"Give the token a name of 1 to {MAX_NAME} characters.", "name")
    if find(user.id, name) is not None:
        raise TokenError(f"{user.email} already has a token named {name}.", "name")
    days = DEFAULT_DAYS if days is None else days
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise TokenError(f"The expiry must be between 1 and {MAX_DAYS} days.", "expires_days")
    scopes = list(dict.fromkeys(scopes or []))
    if not scopes:
        raise TokenError("Choose at least one scope.", "scopes")
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise TokenError(f"Unknown scope: {', '.join(unknown)}.", "scopes")
    missing = [scope for scope in scopes if not scope_works(user, scope)]
    if missing:
        needs = ", ".join(f"{scope} needs {SCOPES[scope]}" for scope in missing)
        raise TokenError(f"{user.email} does not hold the permission: {needs}.", "scopes")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utc_now()
    token = PersonalAccessToken(
        user_id=user.id,
        name=name,
        token_hash=digest(secret),
        prefix=secret[:9],
        scopes=[scope for scope in SCOPES if scope in scopes],
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        actor,
        MODULE,
        "create",
        f"Created the personal access token {name} of {user.email}",
        after=values(token),
        client_id=user.client_id,
    )
    return token, secret


def revoke(token: PersonalAccessToken, actor: User | None) -> bool:
    """Revoke ``token`` (it stops working at once); audited. Return False if it already was."""
    if token.revoked_at is not None:
        return False
    before = values(token)
    token.revoked_at = utc_now()
    token.revoked_by = actor.email if actor is not None else "cli"
    audit.record(
        actor,
        MODULE,
        "revoke",
        f"Revoked the personal access token {token.name} of {token.user.email}",
        before=before,
        after=values(token),
        client_id=token.user.client_id,
    )
    return True


def revoke_all(user: User) -> None:
    """Revoke every live token of ``user`` (a deactivation; the caller audits the change)."""
    db.session.execute(
        sa.update(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == user.id, PersonalAccessToken.revoked_at.is_(None))
        .values(revoked_at=utc_now(), revoked_by="deactivated")
    )


def values(token: PersonalAccessToken) -> dict:
    """Return what the audit log keeps of a token (never its secret or digest)."""
    return {
        "name": token.name,
        "scopes": list(token.scopes),
        "expires_at": _iso(token.expires_at),
        "revoked_at": _iso(token.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


@dataclass
class Access:
    """A token as one API call checks it: its row, its user's state and permissions (read in
    one query, no ORM objects); ``user`` loads the user for the views that act as them."""

    id: int
    name: str
    user_id: int
    active: bool
    scopes: tuple[str, ...]
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_from: str | None
    permissions: frozenset[str]

    @cached_property
    def user(self) -> User:
        return db.session.get(User, self.user_id)


_t, _users, _roles = PersonalAccessToken.__table__, User.__table__, Role.__table__
_CHECK = (  # Core columns: no ORM entity in the statement, so no ORM loading step
    sa.select(
        _t.c.id,
        _t.c.name,
        _t.c.user_id,
        _users.c.active,
        _t.c.scopes,
        _t.c.expires_at,
        _t.c.revoked_at,
        _t.c.last_used_at,
        _t.c.last_used_from,
        _roles.c.permissions,
    )
    .join(_users, _users.c.id == _t.c.user_id)
    .outerjoin(user_roles, user_roles.c.user_id == _t.c.user_id)
    .outerjoin(_roles, _roles.c.id == user_roles.c.role_id)
)


def lookup(secret: str) -> Access | None:
    """Return the token whose secret this is (any state), or None: one indexed query, one
    row per role of its user."""
    if not secret.startswith(PREFIX):
        return None
    rows = db.session.execute(_CHECK.where(_t.c.token_hash == digest(secret))).all()
    if not rows:
        return None
    first = rows[0]
    permissions = frozenset(code for row in rows for code in (row.permissions or ()))
    return Access(
        first.id,
        first.name,
        first.user_id,
        first.active,
        tuple(first.scopes),
        first.expires_at,
        first.revoked_at,
        first.last_used_at,
        first.last_used_from,
        permissions,
    )


def note_use(token: Access, address: str | None, now: datetime) -> bool:
    """Record when and from where the token was used (at most once a minute per address);
    return whether anything was written (the caller commits)."""
    address = (address or "")[:64] or None
    last = token.last_used_at
    if last is not None and now - last < LAST_USED_EVERY and token.last_used_from == address:
        return False
    db.session.execute(
        sa.update(_t).where(_t.c.id == token.id).values(last_used_at=now, last_used_from=address)
    )
    return True
