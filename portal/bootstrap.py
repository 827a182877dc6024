"""What ``flask setup`` puts in a new database: idempotent, so running it twice changes nothing."""

import secrets

import sqlalchemy as sa

from portal import accounts, audit, clients
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.models import AccessGroup, Role, User
from portal.permissions import ADMIN_GROUP, ADMIN_ROLE, BUILTIN_ROLES

DEFAULT_ADMIN_EMAIL = "admin@example.com"


def bootstrap(
    admin_email: str | None = None, admin_password: str | None = None
) -> tuple[User | None, str | None]:
    """Create the Default client, built-in roles, the Administrators group, the maintenance row
    and, if there is no user yet, the first admin. Return (admin, generated password) when an
    admin was created (the password only when it was generated), else (None, None)."""
    client = accounts.find_client(accounts.DEFAULT_CLIENT)
    if client is None:
        client, _key = clients.create_client(accounts.DEFAULT_CLIENT)
        audit.record(
            None, "clients", "create", f"Created client {client.name}", after={"name": client.name}
        )
    for name, codes in BUILTIN_ROLES.items():
        if db.session.scalar(sa.select(Role).where(Role.name == name)) is None:
            accounts.create_role(name, codes)
            audit.record(
                None, "roles", "create", f"Created role {name}", after={"permissions": codes}
            )
    if db.session.scalar(sa.select(AccessGroup).where(AccessGroup.name == ADMIN_GROUP)) is None:
        accounts.create_group(ADMIN_GROUP, "Administrators of this instance")
        audit.record(None, "groups", "create", f"Created access group {ADMIN_GROUP}")
    get_or_create_state()

    created, generated = None, None
    if db.session.scalar(sa.select(sa.func.count(User.id))) == 0:
        generated = None if admin_password else secrets.token_urlsafe(12)
        created = accounts.create_user(
            admin_email or DEFAULT_ADMIN_EMAIL,
            admin_password or generated,
            client,
            accounts.find_roles([ADMIN_ROLE]),
            accounts.find_groups([ADMIN_GROUP]),
        )
        audit.record(
            None,
            "users",
            "create",
            f"Created first admin {created.email}",
            after={"email": created.email},
        )
    db.session.commit()
    return created, generated
