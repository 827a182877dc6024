"""``flask processor run``: the event processor as its own foreground process."""

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from portal.events import runner
from portal.operations.server import database_label

processor_group = AppGroup("processor", help="Run the event processor.")


@processor_group.command("run")
def run_command() -> None:
    """Run the event processor in the foreground until SIGINT or SIGTERM."""
    app = current_app._get_current_object()
    if not app.config.get("PROCESSOR_ENABLED"):
        raise click.ClickException("The event processor is disabled (PROCESSOR_ENABLED is false).")
    stopping = threading.Event()

    def on_signal(signum, _frame) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not runner.start(app):
            raise click.ClickException("The processor is already running in this process.")
        click.echo(
            f"Event processor running every {app.config['PROCESSOR_INTERVAL_SECONDS']}s on "
            f"{database_label(app)}; stop with Ctrl+C."
        )
        while not stopping.wait(0.5):
            pass
    finally:
        runner.stop(app)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Event processor stopped.")
