import click
from flask.cli import with_appcontext
from flask_migrate import upgrade

from portal import accounts
from portal.bootstrap import bootstrap


@click.command("setup")
@click.option(
    "--admin-email", default=None, help="Email of the first admin (default admin@example.com)."
)
@click.option(
    "--admin-password", default=None, help="Password of the first admin (generated if omitted)."
)
@with_appcontext
def setup_command(admin_email: str | None, admin_password: str | None) -> None:
    """Create or upgrade the schema and the built-in data; create the first admin if none exists."""
    upgrade()
    try:
        admin, generated = bootstrap(admin_email, admin_password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
    if admin is None:
        click.echo("Setup complete; nothing to change.")
        return
    click.echo(f"Created admin {admin.email}.")
    if generated:
        click.echo(f"Generated admin password (shown once): {generated}")
