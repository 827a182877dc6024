"""Who may act on what: the two scopes and the no-escalation rule, stated once.

- **Scope.** A holder of ``client_settings:manage`` administers the instance: every client.
  Everyone else acts only inside their own client (users, workflows, triggers, events, the
  dashboard, the audit log); another client's row answers 404, so it does not show it exists.
- **Instance-wide objects.** Roles and access groups are shared by every client (the bypass
  rule picks from them): creating, renaming or deleting one, or changing a role's permissions
  (which changes what users of every client may do), needs ``client_settings:manage``.
- **No escalation.** Nobody gives a user or a role a permission they do not hold themselves,
  or edits, resets, unlocks or deletes a user who holds a permission they lack.

Views ask these functions; refusals raise :class:`Refused` (a form error, audited) or answer 404.
"""

from collections.abc import Iterable

import sqlalchemy as sa
from flask import abort

from portal.accounts import AccountError
from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE
from portal.extensions import db
from portal.models import AuditEntry, Client, Role, User

# Audit modules about instance-wide objects: only instance admins read their entries.
INSTANCE_MODULES = ("roles", "groups", "maintenance")

INSTANCE_ONLY = (
    "Roles and access groups are shared by every client of this instance, so {what} needs the "
    "client_settings:manage permission as well."
)


class Refused(AccountError):
    """A change the actor may not make; shown as a form error and audited as ``refused``."""

    def __init__(self, message: str, module: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.module = module


def is_instance_admin(user: User) -> bool:
    """Return whether ``user`` administers the whole instance (every client)."""
    return user.can(CLIENT_SETTINGS_MANAGE)


# --- Scope -------------------------------------------------------------------------------------


def visible_clients(user: User) -> list[Client]:
    """Return the user's own client first, then every other client for an instance admin."""
    if not is_instance_admin(user):
        return [user.client]
    others = db.session.scalars(
        sa.select(Client).where(Client.id != user.client_id).order_by(Client.name)
    )
    return [user.client, *others]


def visible_client_ids(user: User) -> list[int]:
    """Return the ids of :func:`visible_clients`, in the same order."""
    if not is_instance_admin(user):
        return [user.client_id]
    return [client.id for client in visible_clients(user)]


def client_scope(user: User) -> int | None:
    """Return the one client whose figures ``user`` sees, or None for every client."""
    return None if is_instance_admin(user) else user.client_id


def in_scope(user: User, client_id: int | None) -> bool:
    """Return whether ``user`` may act on a row of client ``client_id``."""
    return is_instance_admin(user) or client_id == user.client_id


def owned_or_404(model, row_id: int, user: User, client_of=lambda row: row.client_id):
    """Return the row of ``model`` if ``user`` may act on its client (``client_of(row)``, its
    ``client_id`` unless told otherwise); 404 otherwise."""
    row = db.get_or_404(model, row_id)
    if not in_scope(user, client_of(row)):
        abort(404)
    return row


def scoped(query: sa.Select, model, user: User) -> sa.Select:
    """Narrow ``query`` over ``model`` (with a ``client_id``) to the rows ``user`` may see."""
    if is_instance_admin(user):
        return query
    return query.where(model.client_id == user.client_id)


def scoped_audit(query: sa.Select, user: User) -> sa.Select:
    """Narrow an audit-entry query to what ``user`` may read: an instance admin reads every
    entry; others read the entries about their own client's users and objects."""
    if is_instance_admin(user):
        return query
    return query.where(
        AuditEntry.client_id == user.client_id, AuditEntry.module.not_in(INSTANCE_MODULES)
    )


def rows_by_client(model, clients: list[Client]) -> dict[int, list]:
    """Return the rows of ``model`` of each of ``clients`` by name, keyed by client id."""
    by_client: dict[int, list] = {client.id: [] for client in clients}
    rows = db.session.scalars(
        sa.select(model).where(model.client_id.in_(list(by_client))).order_by(model.name)
    )
    for row in rows:
        by_client[row.client_id].append(row)
    return by_client


# --- No escalation -----------------------------------------------------------------------------


def lacking(held: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """Return the codes of ``wanted`` that are not in ``held``, in catalogue order."""
    held = set(held)
    return sorted({code for code in wanted if code not in held})


def check_may_grant_roles(held: set[str], roles: Iterable[Role]) -> None:
    """Refuse giving a user ``roles`` when one holds a permission outside ``held``."""
    for role in roles:
        missing = lacking(held, role.permissions)
        if missing:
            raise Refused(
                f"You cannot give the role {role.name}: it holds {', '.join(missing)}, "
                "which you do not hold yourself.",
                "users",
                "roles",
            )


def check_may_manage_user(held: set[str], user: User, action: str) -> None:
    """Refuse ``action`` (edit, reset, unlock, delete) on a user who holds more than ``held``."""
    missing = lacking(held, user.permissions)
    if missing:
        raise Refused(
            f"You cannot {action} {user.email}: they hold {', '.join(missing)}, "
            "which you do not hold yourself.",
            "users",
        )


def check_may_change_role(held: set[str], role: Role | None, permissions: Iterable[str]) -> None:
    """Refuse giving a role permissions outside ``held``, or changing a role that already holds
    some (that would strip its holders of what the actor could never give back)."""
    before = role.permissions if role is not None else []
    missing = lacking(held, [*before, *permissions])
    if missing:
        name = f"the role {role.name}" if role is not None else "a role"
        raise Refused(
            f"You cannot give {name} {', '.join(missing)}, or change a role that holds it: "
            "you do not hold it yourself.",
            "roles",
            "permissions",
        )


def check_instance_admin(user: User, module: str, what: str) -> None:
    """Refuse a change to an instance-wide role or group (``module`` "roles" or "groups") by
    someone who is not an instance admin; ``what`` names the change ("creating a role")."""
    if not is_instance_admin(user):
        raise Refused(INSTANCE_ONLY.format(what=what), module)
