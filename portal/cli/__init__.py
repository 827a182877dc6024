"""The ``flask`` command groups of the portal."""

from flask import Flask

from portal.cli.accounts import clients_cli, groups_cli, roles_cli, users_cli
from portal.cli.maintenance import maintenance_cli
from portal.cli.processor import processor_group
from portal.cli.setup import setup_command
from portal.cli.tokens import tokens_cli
from portal.mail.cli import mail_cli
from portal.operations.cli import backup_command


def register(app: Flask) -> None:
    for group in (roles_cli, groups_cli, clients_cli, users_cli, maintenance_cli, tokens_cli):
        app.cli.add_command(group)
    app.cli.add_command(setup_command)
    app.cli.add_command(processor_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(mail_cli)
