"""What a serving process tells the operator when it starts."""

import sqlalchemy as sa
from flask import Flask


def database_label(app: Flask) -> str:
    """Return the database URL with its password hidden."""
    return sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)


def describe(app: Flask | None) -> str:
    """Return one line: the database (password hidden) and whether the processor runs here."""
    if app is None:
        return "the portal application is not loaded"
    url = database_label(app)
    if app.config.get("PROCESSOR_ENABLED"):
        processor = "event processor on (this process competes for the processor lease)"
    else:
        processor = "event processor off here (PROCESSOR_ENABLED is false)"
    return f"database {url}; {processor}"
