"""What ``flask setup`` puts in a new database: idempotent, so running it twice changes nothing."""

from dataclasses import dataclass, field

import sqlalchemy as sa

from portal import accounts, audit, clients
from portal.accounts import names, passwords
from portal.accounts.permissions import ADMIN_GROUP, ADMIN_ROLE, BUILTIN_ROLES
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.models import AccessGroup, Client, Role, User

DEFAULT_ADMIN_EMAIL = "admin@example.com"


@dataclass
class Setup:
    """What one run of setup did: the rows it created, and the first admin if it made one."""

    created: list[str] = field(default_factory=list)
    admin: User | None = None
    generated_password: str | None = None


def bootstrap(admin_email: str | None = None, admin_password: str | None = None) -> Setup:
    """Create the default client, built-in roles, the Administrators group, the maintenance row
    and, if there is no user yet, the first admin; report what was created."""
    done = Setup()
    if accounts.default_client() is None:
        _default_client(done)
    for name, codes in BUILTIN_ROLES.items():
        if names.taken_by(Role, name) is None:  # in any case: an admin may have renamed it
            accounts.create_role(name, codes)
            _record(done, "roles", f"Created role {name}", after={"permissions": codes})
    if names.taken_by(AccessGroup, ADMIN_GROUP) is None:
        accounts.create_group(ADMIN_GROUP, "Administrators of this instance")
        _record(done, "groups", f"Created access group {ADMIN_GROUP}")
    get_or_create_state()

    if db.session.scalar(sa.select(sa.func.count(User.id))) == 0:
        email, client = admin_email or DEFAULT_ADMIN_EMAIL, accounts.default_client()
        if not admin_password:
            try:
                done.generated_password = passwords.generate_password(client, email)
            except ValueError as exc:
                raise accounts.AccountError(f"{exc} Choose one with --admin-password.") from None
        done.admin = accounts.create_user(
            email,
            admin_password or done.generated_password,
            client,
            accounts.find_roles([ADMIN_ROLE]),
            accounts.find_groups([ADMIN_GROUP]),
        )
        _record(
            done,
            "users",
            f"Created first admin {done.admin.email}",
            after={"email": done.admin.email},
        )
    db.session.commit()
    return done


def _default_client(done: Setup) -> Client:
    """Mark the client named Default as the default one, or create it."""
    client = accounts.find_client(accounts.DEFAULT_CLIENT)
    if client is not None:
        client.is_default = True
        _record(done, "clients", f"Made client {client.name} the default client")
        return client
    client, _key = clients.create_client(accounts.DEFAULT_CLIENT)
    client.is_default = True
    _record(done, "clients", f"Created client {client.name}", after={"name": client.name})
    return client


def _record(done: Setup, module: str, description: str, **details) -> None:
    audit.record(None, module, "create", description, **details)
    done.created.append(description)
