"""Helpers of the personal-access-token tests: users and tokens in any app (SQLite or PG)."""

import pytest
from flask import Flask

from portal import accounts
from portal.accounts import tokens
from portal.extensions import db
from portal.models import User
from tests.conftest import PASSWORD_HASH


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request) -> Flask:
    """The test app on SQLite, then on PostgreSQL (skipped without PORTAL_TEST_POSTGRES_URI)."""
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


def add_user(app: Flask, email: str, roles=("Administrator",), groups=("Administrators",)) -> int:
    with app.app_context():
        user = User(
            email=email,
            password_hash=PASSWORD_HASH,
            client=accounts.default_client(),
            roles=accounts.find_roles(roles),
            groups=accounts.find_groups(groups),
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def make_token(app: Flask, email: str, *scopes: str, name: str = "deploy", days: int = 30) -> str:
    with app.app_context():
        user = accounts.find_user(email)
        _token, secret = tokens.create(user, name, list(scopes), days, None)
        db.session.commit()
        return secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}
