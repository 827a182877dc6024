"""``flask maintenance``: read and change the maintenance state from the server shell."""

import json

import click
from flask import current_app
from flask.cli import AppGroup

from portal import accounts
from portal.events import quiet
from portal.extensions import db
from portal.maintenance import get_or_create_state, load_state
from portal.maintenance.changes import MaintenanceError, update_state
from portal.maintenance.schedule import parse_start
from portal.models.maintenance import DEFAULT_NOTICE_MINUTES

maintenance_cli = AppGroup("maintenance", help="Show or change maintenance mode (instance-wide).")


@maintenance_cli.command("status")
def status() -> None:
    """Print the maintenance state as one JSON object."""
    click.echo(json.dumps(load_state().to_dict(), sort_keys=True))


def selection_options(command):
    """Add the options ``enable`` and ``schedule`` share (what the window will apply)."""
    options = [
        click.option(
            "--message",
            default=None,
            help="The message shown on the login screen and in the header.",
        ),
        click.option(
            "--restrict-events/--no-restrict-events",
            default=None,
            help="Hold all event processing, workflows and triggers while maintenance is on.",
        ),
        click.option(
            "--bypass-role",
            "bypass_roles",
            multiple=True,
            help="A bypass role (repeat: the whole list).",
        ),
        click.option(
            "--bypass-group",
            "bypass_groups",
            multiple=True,
            help="A bypass access group (repeat: the whole list).",
        ),
        click.option(
            "--expected-end",
            default=None,
            help="When maintenance is expected to end, in UTC, e.g. 2026-12-01T20:00Z (shown "
            "on the banners; ending stays manual). Empty text clears it.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _selection(message, restrict_events, bypass_roles, bypass_groups, expected_end=None) -> dict:
    changes: dict = {}
    if expected_end is not None:
        changes["expected_end"] = parse_start(expected_end) if expected_end.strip() else None
    if message is not None:
        changes["message"] = message
    if restrict_events is not None:
        changes["restrict_event_processor"] = restrict_events
    if bypass_roles:
        changes["bypass_roles"] = accounts.find_roles(bypass_roles)
    if bypass_groups:
        changes["bypass_groups"] = accounts.find_groups(bypass_groups)
    return changes


def _apply(**changes) -> tuple | None:
    """Save ``changes`` as the shell ("cli"); a refusal is a one-line error, nothing changed."""
    available = bool(current_app.config["MAINTENANCE_MODE_AVAILABLE"])
    try:
        changed = update_state(get_or_create_state(), None, available=available, **changes)
    except MaintenanceError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc))
    db.session.commit()
    return changed


def _warn_if_nobody() -> None:
    state = load_state()
    if not state.bypass_roles or not state.bypass_groups:
        click.echo("Warning: no bypass role or no bypass group is selected, so nobody can sign in.")


@maintenance_cli.command("enable")
@selection_options
@click.option(
    "--wait",
    is_flag=True,
    help="Then wait until processing is paused: no webhook call still in flight (needs the "
    "restriction); exit non-zero at the timeout.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, quiet.MAX_WAIT_SECONDS),
    default=quiet.MAX_WAIT_SECONDS,
    show_default=True,
    help="Seconds --wait waits at most.",
)
def enable(
    message: str | None,
    restrict_events: bool | None,
    bypass_roles: tuple[str, ...],
    bypass_groups: tuple[str, ...],
    expected_end: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Turn maintenance mode on; options given replace that setting, omitted ones keep theirs."""
    try:
        changes = _selection(message, restrict_events, bypass_roles, bypass_groups, expected_end)
    except (accounts.AccountError, MaintenanceError) as exc:
        raise click.ClickException(str(exc))
    changed = _apply(enabled=True, **changes)
    _warn_if_nobody()
    click.echo(
        "Maintenance mode is on."
        if changed
        else "Maintenance mode was already on; nothing changed."
    )
    if wait:
        _wait_until_paused(timeout)


def _wait_until_paused(timeout: float) -> None:
    if not load_state().restrict_event_processor:
        raise click.ClickException(
            "--wait waits for processing to pause, but the event processor is not restricted "
            "(add --restrict-events)."
        )
    processing, calls = quiet.wait_until_paused(timeout)
    if processing != quiet.PAUSED:
        raise click.ClickException(
            f"Timed out after {timeout:g} s: processing is {processing} "
            f"({calls} webhook call(s) in flight)."
        )
    click.echo("Processing is paused: no webhook call is in flight.")


@maintenance_cli.command("schedule")
@click.option("--at", "at", required=True, help="The start time in UTC, e.g. 2026-12-01T18:00Z.")
@click.option(
    "--notice-minutes",
    type=int,
    default=None,
    help=f"Show the advance banner this long before the start (default {DEFAULT_NOTICE_MINUTES}).",
)
@selection_options
def schedule(
    at: str,
    notice_minutes: int | None,
    message: str | None,
    restrict_events: bool | None,
    bypass_roles: tuple[str, ...],
    bypass_groups: tuple[str, ...],
    expected_end: str | None,
) -> None:
    """Schedule maintenance mode to start by itself; options as for ``enable``."""
    try:
        start = parse_start(at)
        changes = _selection(message, restrict_events, bypass_roles, bypass_groups, expected_end)
    except (accounts.AccountError, MaintenanceError) as exc:
        raise click.ClickException(str(exc))
    notice = DEFAULT_NOTICE_MINUTES if notice_minutes is None else notice_minutes
    if load_state().enabled:
        raise click.ClickException(
            "Maintenance mode is already on: a start can only be scheduled while it is off."
        )
    _apply(scheduled_start=start, notice_minutes=notice, **changes)
    _warn_if_nobody()
    click.echo(
        f"Maintenance mode will start at {start:%Y-%m-%d %H:%M} UTC "
        f"(advance notice from {notice} minutes before)."
    )


@maintenance_cli.command("unschedule")
def unschedule() -> None:
    """Cancel the scheduled start of maintenance mode."""
    if load_state().scheduled_start is None:
        raise click.ClickException("No start of maintenance mode is scheduled.")
    _apply(scheduled_start=None)
    click.echo("The scheduled start of maintenance mode is cancelled.")


@maintenance_cli.command("disable")
def disable() -> None:
    """Turn maintenance mode off (the emergency exit); the other settings are kept."""
    changed = update_state(get_or_create_state(), None, enabled=False)
    db.session.commit()
    click.echo("Maintenance mode is off." if changed else "Maintenance mode was already off.")
