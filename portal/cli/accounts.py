"""``flask roles``, ``groups``, ``clients`` and ``users``: accounts from the server shell."""

from typing import Any

import click
from flask.cli import AppGroup

from portal import accounts, audit, clients
from portal.accounts import names
from portal.extensions import db
from portal.models import AccessGroup, Client, Role

roles_cli = AppGroup("roles", help="Manage roles.")
groups_cli = AppGroup("groups", help="Manage access groups.")
clients_cli = AppGroup("clients", help="Manage clients and their API keys.")
users_cli = AppGroup("users", help="Manage users.")


@roles_cli.command("create")
@click.argument("name")
@click.option(
    "--permission", "permissions", multiple=True, help="A permission code (repeat for several)."
)
def create_role(name: str, permissions: tuple[str, ...]) -> None:
    """Create a role with the given permissions (an existing name is left unchanged)."""
    existing = names.taken_by(Role, name)
    if existing is not None:
        click.echo(f"Role {existing} already exists.")
        return
    try:
        role = accounts.create_role(name, permissions)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
    _commit("roles", "create", f"Created role {role.name}", after={"permissions": role.permissions})
    click.echo(f"Created role {role.name}.")


@groups_cli.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the group is for.")
def create_group(name: str, description: str) -> None:
    """Create an access group (an existing name is left unchanged)."""
    existing = names.taken_by(AccessGroup, name)
    if existing is not None:
        click.echo(f"Access group {existing} already exists.")
        return
    try:
        group = accounts.create_group(name, description)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
    _commit("groups", "create", f"Created access group {group.name}")
    click.echo(f"Created access group {group.name}.")


@clients_cli.command("create")
@click.argument("name")
@click.option("--contact-email", default="", help="Who to contact about this client.")
def create_client(name: str, contact_email: str) -> None:
    """Create a client and print its API key once, alone on the last line."""
    try:
        client, key = clients.create_client(name, contact_email)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
    _commit(
        "clients",
        "create",
        f"Created client {client.name}",
        after={"name": client.name},
        client_id=client.id,
    )
    click.echo(f"Created client {client.name}. Its API key (shown once):")
    click.echo(key)


@clients_cli.command("rotate-key")
@click.argument("name")
def rotate_key(name: str) -> None:
    """Give a client a new API key (the old one stops working) and print it once."""
    client = _client(name)
    key = clients.rotate_api_key(client)
    _commit("clients", "rotate_key", f"Rotated the API key of {client.name}", client_id=client.id)
    click.echo(f"New API key of {client.name} (shown once; the old key no longer works):")
    click.echo(key)


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--password",
    required=True,
    help="The password (the client's policy applies; easily guessed ones are refused).",
)
@click.option("--role", "roles", multiple=True, required=True, help="A role name (repeatable).")
@click.option(
    "--group", "groups", multiple=True, required=True, help="An access group (repeatable)."
)
@click.option(
    "--client",
    "client_name",
    default=None,
    help="The user's client (default: the default client made by setup).",
)
@click.option(
    "--must-change-password", is_flag=True, help="Make the user choose a new password at sign-in."
)
def create_user(
    email: str,
    password: str,
    roles: tuple[str, ...],
    groups: tuple[str, ...],
    client_name: str | None,
    must_change_password: bool,
) -> None:
    """Create a user with one or more roles and access groups."""
    client = _client(client_name) if client_name else accounts.default_client()
    if client is None:
        raise click.ClickException("There is no default client yet: run flask setup first.")
    try:
        user = accounts.create_user(
            email,
            password,
            client,
            accounts.find_roles(roles),
            accounts.find_groups(groups),
            must_change_password=must_change_password,
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
    _commit(
        "users",
        "create",
        f"Created user {user.email}",
        after={
            "email": user.email,
            "roles": list(roles),
            "groups": list(groups),
            "must_change_password": must_change_password,
        },
        client_id=client.id,
    )
    click.echo(f"Created user {user.email} in client {client.name}.")


@users_cli.command("set-password")
@click.argument("email")
@click.option(
    "--password",
    required=True,
    help="The new password (the client's policy applies; easily guessed ones are refused).",
)
@click.option(
    "--must-change-password", is_flag=True, help="Make the user choose a new password at sign-in."
)
def set_password(email: str, password: str, must_change_password: bool) -> None:
    """Set a user's password and unlock the account (e.g. a lost admin password)."""
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"Unknown user: {accounts.normalize_email(email)}")
    try:
        accounts.set_password(user, password, must_change_password=must_change_password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
    _commit(
        "users",
        "password",
        f"Set the password of {user.email}",
        after={"must_change_password": must_change_password},
        client_id=user.client_id,
    )
    click.echo(f"Set the password of {user.email}; the account is unlocked.")


def _client(name: str) -> Client:
    client = accounts.find_client(name)
    if client is None:
        raise click.ClickException(f"Unknown client: {name}")
    return client


def _commit(module: str, action: str, description: str, **details: Any) -> None:
    # The server shell is the actor ("cli"); audit and change are one unit of work.
    audit.record(None, module, action, description, **details)
    db.session.commit()
