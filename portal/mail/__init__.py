"""The one mail path: a durable outbox (:mod:`.outbox`) that the processor's process sends
(:mod:`.sender`), messages rendered from ``templates/mail`` (:mod:`.messages`)."""

from flask import current_app

PRODUCT_NAME = "Gateway Portal"
OFF = "Mail is off on this instance (MAIL_SERVER and MAIL_FROM are not set), so no email is sent."


def configured() -> bool:
    """Return whether this instance sends mail: a server and a sender address are set."""
    config = current_app.config
    return bool(config.get("MAIL_SERVER") and config.get("MAIL_FROM"))
