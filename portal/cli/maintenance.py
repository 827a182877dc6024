"""``flask maintenance``: read and change the maintenance state from the server shell."""

import json

import click
from flask import current_app
from flask.cli import AppGroup

from portal import accounts
from portal.extensions import db
from portal.maintenance import get_or_create_state, load_state
from portal.maintenance.changes import MaintenanceError, update_state

maintenance_cli = AppGroup("maintenance", help="Show or change maintenance mode (instance-wide).")


@maintenance_cli.command("status")
def status() -> None:
    """Print the maintenance state as one JSON object."""
    click.echo(json.dumps(load_state().to_dict(), sort_keys=True))


@maintenance_cli.command("enable")
@click.option(
    "--message", default=None, help="The message shown on the login screen and in the header."
)
@click.option(
    "--restrict-events/--no-restrict-events",
    default=None,
    help="Hold all event processing, workflows and triggers while maintenance is on.",
)
@click.option(
    "--bypass-role", "bypass_roles", multiple=True, help="A bypass role (repeat: the whole list)."
)
@click.option(
    "--bypass-group",
    "bypass_groups",
    multiple=True,
    help="A bypass access group (repeat: the whole list).",
)
def enable(
    message: str | None,
    restrict_events: bool | None,
    bypass_roles: tuple[str, ...],
    bypass_groups: tuple[str, ...],
) -> None:
    """Turn maintenance mode on; options given replace that setting, omitted ones keep theirs."""
    changes: dict = {"enabled": True}
    try:
        if message is not None:
            changes["message"] = message
        if restrict_events is not None:
            changes["restrict_event_processor"] = restrict_events
        if bypass_roles:
            changes["bypass_roles"] = accounts.find_roles(bypass_roles)
        if bypass_groups:
            changes["bypass_groups"] = accounts.find_groups(bypass_groups)
        available = bool(current_app.config["MAINTENANCE_MODE_AVAILABLE"])
        changed = update_state(get_or_create_state(), None, available=available, **changes)
    except (accounts.AccountError, MaintenanceError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc))
    db.session.commit()
    state = load_state()
    if not state.bypass_roles or not state.bypass_groups:
        click.echo("Warning: no bypass role or no bypass group is selected, so nobody can sign in.")
    click.echo(
        "Maintenance mode is on."
        if changed
        else "Maintenance mode was already on; nothing changed."
    )


@maintenance_cli.command("disable")
def disable() -> None:
    """Turn maintenance mode off (the emergency exit); the other settings are kept."""
    changed = update_state(get_or_create_state(), None, enabled=False)
    db.session.commit()
    click.echo("Maintenance mode is off." if changed else "Maintenance mode was already off.")
