import click
from flask.cli import with_appcontext
from flask_migrate import upgrade

from portal import accounts
from portal.cli.bootstrap import bootstrap


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
        done = bootstrap(admin_email, admin_password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc))
    if not done.created:
        click.echo("Setup complete; nothing to change.")
        return
    for line in done.created:
        click.echo(f"{line}.")
    if done.generated_password:
        click.echo(f"Generated admin password (shown once): {done.generated_password}")
