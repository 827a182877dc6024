"""Writing audit entries; the caller commits them with its own unit of work."""

from typing import Any

from portal.extensions import db
from portal.models import AuditEntry, User


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
