"""Helpers for the admin page tests: look rows up by name, read the audit log."""

import sqlalchemy as sa
from flask import Flask

from portal import accounts
from portal.extensions import db
from portal.models import AccessGroup, AuditEntry, Client, Role, User


def role_id(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Role.id).where(Role.name == name))


def group_id(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(AccessGroup.id).where(AccessGroup.name == name))


def client_id(app: Flask, name: str = "Default") -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Client.id).where(Client.name == name))


def user_id(app: Flask, email: str) -> int | None:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email))


def audit_entries(app: Flask, module: str) -> list[AuditEntry]:
    """Return the audit entries of ``module``, oldest first (detached, their columns loaded)."""
    with app.app_context():
        query = sa.select(AuditEntry).where(AuditEntry.module == module).order_by(AuditEntry.id)
        entries = list(db.session.scalars(query))
        db.session.expunge_all()
        return entries


def last_audit(app: Flask, module: str) -> AuditEntry:
    """Return the newest audit entry of ``module``."""
    return audit_entries(app, module)[-1]


def text(response) -> str:
    """Return a page's text with the quotes Jinja escapes put back."""
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"')


def add_role(app: Flask, name: str, permissions: list[str]) -> None:
    with app.app_context():
        accounts.create_role(name, permissions)
        db.session.commit()


def add_group(app: Flask, name: str) -> None:
    with app.app_context():
        accounts.create_group(name)
        db.session.commit()
