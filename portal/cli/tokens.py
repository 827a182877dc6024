"""``flask tokens``: personal access tokens from the server shell (bootstrapping a pipeline)."""

import click
from flask.cli import AppGroup

from portal import accounts
from portal.accounts import tokens
from portal.extensions import db

tokens_cli = AppGroup("tokens", help="Manage personal access tokens.")


def _user(email: str):
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"No user {email}.")
    return user


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. deploy-pipeline.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(list(tokens.SCOPES)),
    help="A scope (repeat for several); its user must hold the permission behind it.",
)
@click.option(
    "--expires-days",
    type=click.IntRange(1, tokens.MAX_DAYS),
    default=tokens.DEFAULT_DAYS,
    show_default=True,
    help="Days until the token expires.",
)
def create(email: str, name: str, scopes: tuple[str, ...], expires_days: int) -> None:
    """Create a token for the user and print it once, alone on the last line."""
    user = _user(email)
    if not user.active:
        raise click.ClickException(f"{user.email} is deactivated.")
    try:
        token, secret = tokens.create(user, name, list(scopes), expires_days, None)
    except tokens.TokenError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc))
    db.session.commit()
    click.echo(
        f"Created the token {token.name} of {user.email} ({', '.join(token.scopes)}), "
        f"expiring {token.expires_at:%Y-%m-%d %H:%M} UTC. It is shown only now:"
    )
    click.echo(secret)


@tokens_cli.command("revoke")
@click.argument("email")
@click.argument("name")
def revoke(email: str, name: str) -> None:
    """Revoke the user's token of this name (it stops working at once)."""
    user = _user(email)
    token = tokens.find(user.id, name)
    if token is None:
        raise click.ClickException(f"{user.email} has no token named {name} (or it is revoked).")
    tokens.revoke(token, None)
    db.session.commit()
    click.echo(f"Revoked the token {token.name} of {user.email}.")
