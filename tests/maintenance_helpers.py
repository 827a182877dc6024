"""Helpers for the maintenance tests: switch the state directly through the domain function."""

import re

from flask import Flask

from portal import accounts
from portal.extensions import db
from portal.maintenance import get_or_create_state, load_state
from portal.maintenance.changes import update_state

LOGIN_ERROR_RE = re.compile(r'<p class="error" role="alert" id="login-error">(.*?)</p>', re.S)
LOGIN_MESSAGE_RE = re.compile(r'<p class="message">(.*?)</p>', re.S)


def set_maintenance(
    app: Flask,
    enabled: bool = True,
    roles: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
    **changes,
) -> None:
    """Save the state as the CLI would (no lockout protection)."""
    with app.app_context():
        update_state(
            get_or_create_state(),
            None,
            enabled=enabled,
            bypass_roles=accounts.find_roles(roles),
            bypass_groups=accounts.find_groups(groups),
            **changes,
        )
        db.session.commit()


def state_dict(app: Flask) -> dict:
    with app.app_context():
        return load_state().to_dict()


def add_group(app: Flask, name: str) -> None:
    with app.app_context():
        accounts.create_group(name)
        db.session.commit()


def login_refusal(page: str) -> tuple[str, str]:
    """Return the error line and the maintenance message of a login page."""
    error = LOGIN_ERROR_RE.search(page)
    message = LOGIN_MESSAGE_RE.search(page)
    return (error.group(1) if error else "", message.group(1) if message else "")
