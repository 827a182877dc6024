"""``flask mail test EMAIL``: send one message now and print the server's answer."""

import smtplib

import click
from flask.cli import AppGroup

from portal.accounts import EMAIL_RE
from portal.mail import OFF, configured
from portal.mail.messages import render
from portal.mail.sender import Permanent, describe_error, send_now

mail_cli = AppGroup("mail", help="Email settings.")


@mail_cli.command("test")
@click.argument("email")
def test_command(email: str) -> None:
    """Send a test message to EMAIL at once (not through the outbox)."""
    if not configured():
        raise click.ClickException(OFF)
    if not EMAIL_RE.match(email.strip()):
        raise click.ClickException(f"Not a valid email address: {email!r}")
    message = render("test", "Test message")
    try:
        answer = send_now(email, message.subject, message.text, message.html)
    except Permanent as exc:
        raise click.ClickException(f"Not sent: {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise click.ClickException(f"Not sent: {describe_error(exc)}") from None
    click.echo(f"Sent to {email}: {answer}")
