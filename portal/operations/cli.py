"""``flask backup``: an online copy of the SQLite database from the server shell."""

import click
from flask.cli import with_appcontext

from portal.extensions import db
from portal.operations.backup import BackupError, backup_sqlite


@click.command("backup")
@click.argument("path")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@with_appcontext
def backup_command(path: str, force: bool) -> None:
    """Write a consistent copy of the SQLite database to PATH while the portal keeps serving."""
    try:
        written = backup_sqlite(db.engine, path, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc))
    size = written.stat().st_size
    click.echo(f"Backed up the database to {written} ({size:,} bytes).")
