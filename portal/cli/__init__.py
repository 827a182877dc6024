"""The ``flask`` command groups of the portal."""

from flask import Flask


def register(app: Flask) -> None:
    from portal.cli.processor import processor_group
    from portal.cli.setup import setup_command

    app.cli.add_command(setup_command)
    app.cli.add_command(processor_group)
