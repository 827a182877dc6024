"""Two admins edit one user, role or group: the second save is refused, naming the first."""

import pytest
import sqlalchemy as sa

from portal import accounts
from portal.extensions import db
from portal.models import AccessGroup, Role, User
from tests.conftest import login
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)
from tests.token_helpers import add_user, any_app  # noqa: F401

VERSION = 'name="version" type="hidden" value="'


def _open(client, url: str) -> dict:
    page = client.get(url).get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    return {"csrf_token": token, "version": page.split(VERSION)[1].split('"')[0]}


def _ids(app, model) -> dict:
    with app.app_context():
        return {row.name: row.id for row in db.session.scalars(sa.select(model))}


@pytest.mark.parametrize("kind", ["user", "role", "group"])
def test_the_second_admin_is_refused_and_named(any_app, kind):  # noqa: F811
    app = any_app
    add_user(app, "first@example.com")
    add_user(app, "second@example.com")
    with app.app_context():
        accounts.create_role("Reader", ["dashboard:view"])
        accounts.create_group("Night shift")
        db.session.commit()
    target = add_user(app, "target@example.com", roles=("Viewer",), groups=("Night shift",))
    roles, groups = _ids(app, Role), _ids(app, AccessGroup)
    with app.app_context():
        client_id = str(accounts.default_client().id)
    url, first_form, second_form = {
        "user": (
            f"/settings/users/{target}",
            {
                "email": "target@example.com",
                "client": client_id,
                "roles": [roles["Operator"]],
                "groups": [groups["Night shift"]],
                "active": "y",
            },
            {
                "email": "target@example.com",
                "client": client_id,
                "roles": [roles["Viewer"]],
                "groups": [groups["Administrators"]],
                "active": "y",
            },
        ),
        "role": (
            f"/settings/roles/{roles['Reader']}",
            {"name": "Reader", "permissions": ["dashboard:view", "events:view"]},
            {"name": "Readers", "permissions": ["dashboard:view"]},
        ),
        "group": (
            f"/settings/groups/{groups['Night shift']}",
            {"name": "Night shift", "description": "22:00 to 06:00"},
            {"name": "Late shift", "description": "typed by the second admin"},
        ),
    }[kind]
    first, second = app.test_client(), app.test_client()
    login(first, "first@example.com")
    login(second, "second@example.com")
    opened_first, opened_second = _open(first, url), _open(second, url)

    assert first.post(url, data={**opened_first, **first_form}).status_code == 302
    refused = second.post(url, data={**opened_second, **second_form})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Not saved" in text and "first@example.com" in text
    typed = {"user": "Administrators", "role": "Readers", "group": "typed by the second admin"}
    assert typed[kind] in text  # what the second admin typed is kept
    with app.app_context():
        if kind == "user":
            assert [r.name for r in db.session.get(User, target).roles] == ["Operator"]
        elif kind == "role":
            assert db.session.get(Role, roles["Reader"]).name == "Reader"
        else:
            assert db.session.get(AccessGroup, groups["Night shift"]).name == "Night shift"
    # saving again, deliberately, with the version the refusal carries, applies it
    retry = {**opened_second, **second_form, "version": text.split(VERSION)[1].split('"')[0]}
    assert second.post(url, data=retry).status_code == 302
