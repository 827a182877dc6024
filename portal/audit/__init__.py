"""Writing audit entries; the caller commits them with its own unit of work."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from portal.extensions import db
from portal.models import AuditEntry, User

# The personal access token the current change is made through (portal.accounts.tokens), if any.
_through_token: ContextVar[str | None] = ContextVar("audit_through_token", default=None)


@contextmanager
def through_token(name: str) -> Iterator[None]:
    """Mark every entry recorded in the block as made through the token called ``name``."""
    mark = _through_token.set(name)
    try:
        yield
    finally:
        _through_token.reset(mark)


def record(
    actor: User | str | None,
    module: str,
    action: str,
    description: str,
    *,
    before: Any = None,
    after: Any = None,
    client_id: int | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; ``actor`` None means the server shell ("cli")."""
    if isinstance(actor, User):
        name, user_id = actor.email, actor.id
        client_id = client_id if client_id is not None else actor.client_id
    else:
        name, user_id = actor or "cli", None
    token = _through_token.get()
    if token is not None:
        description = f"{description} (through the personal access token {token})"
    entry = AuditEntry(
        actor=name,
        user_id=user_id,
        client_id=client_id,
        module=module,
        action=action,
        description=description,
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry
