"""Settings → Users: list, search, pagination, create, edit, reset password, unlock."""

import json
import re

import pytest
import sqlalchemy as sa

from portal import accounts, clients
from portal.extensions import db
from portal.models import User
from tests.admin_helpers import client_id, group_id, last_audit, role_id, user_id
from tests.conftest import PASSWORD, login, post_form
from tests.security_helpers import lock_out

NEW_PASSWORD = "another-long-password"


def user_data(app, email="new@example.com", roles=("Viewer",), groups=("Administrators",), **extra):
    data = {
        "email": email,
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "client": client_id(app),
        "roles": [role_id(app, name) for name in roles],
        "groups": [group_id(app, name) for name in groups],
        "active": "y",
    }
    data.update(extra)
    return data


def set_policy(app, regex: str, message: str, message_de: str = "") -> None:
    with app.app_context():
        client = accounts.find_client("Default")
        client.password_regex = regex
        client.password_rule_message = message
        client.password_rule_message_de = message_de
        db.session.commit()


def table(response) -> str:
    page = response.get_data(as_text=True)
    return page[page.index('<table id="users">') :]


def test_list_shows_users_and_search_filters_by_email(app, admin_client, make_user):
    make_user("alice@example.com")
    make_user("bob@example.org")
    page = admin_client.get("/settings/users").get_data(as_text=True)
    assert "alice@example.com" in page and "bob@example.org" in page
    page = admin_client.get("/settings/users?q=ALICE").get_data(as_text=True)
    assert "alice@example.com" in page and "bob@example.org" not in page


def test_list_is_paginated(app, admin_client, make_user):
    app.config["USERS_PER_PAGE"] = 2
    for name in ("u1", "u2", "u3", "u4"):
        make_user(f"{name}@example.com")
    first = admin_client.get("/settings/users").get_data(as_text=True)
    assert "Page 1 of 3" in first and "u3@example.com" not in first
    last = table(admin_client.get("/settings/users?page=3"))
    assert "u4@example.com" in last and "admin@example.com" not in last
    assert admin_client.get("/settings/users?page=abc").status_code == 200


def test_create_user_through_the_form(app, admin_client, client):
    response = post_form(admin_client, "/settings/users/new", user_data(app))
    assert response.status_code == 302
    assert "new@example.com" in admin_client.get("/settings/users").get_data(as_text=True)
    entry = last_audit(app, "users")
    assert entry.action == "create"
    assert entry.after["email"] == "new@example.com" and entry.after["roles"] == ["Viewer"]
    # neither the password nor its hash is stored (the must_change_password flag is no secret)
    stored = json.dumps(entry.after).lower()
    assert NEW_PASSWORD not in stored and "hash" not in stored and "scrypt:" not in stored
    assert entry.after["must_change_password"] is False
    other = app.test_client()
    assert login(other, "new@example.com", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"confirm": "something-else"}, "The passwords differ."),
        ({"email": "admin@example.com"}, "A user with email admin@example.com already exists."),
        ({"email": "not-an-email"}, "Not a valid email address"),
        ({"roles": []}, "Choose at least one role."),
        ({"groups": []}, "Choose at least one access group."),
        ({"password": "short", "confirm": "short"}, "Passwords need at least 8 characters."),
    ],
)
def test_create_user_rejects_bad_input_with_a_message(app, admin_client, change, message):
    response = post_form(admin_client, "/settings/users/new", user_data(app, **change))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_client_password_rule_is_shown_and_enforced(app, admin_client):
    set_policy(app, r"(?=.*\d).{10,}", "Use 10+ characters with a digit.", "Mindestens 10 Zeichen.")
    form = admin_client.get("/settings/users/new").get_data(as_text=True)
    assert "Use 10+ characters with a digit." in form
    data = user_data(app, password="no-digits-here", confirm="no-digits-here")
    response = post_form(admin_client, "/settings/users/new", data)
    assert response.status_code == 200
    assert (
        '<p class="error" role="alert">Use 10+ characters with a digit.</p>'
        in response.get_data(as_text=True)
    )
    german = post_form(
        admin_client, "/settings/users/new", data, headers={"Accept-Language": "de-DE,de"}
    )
    assert "Mindestens 10 Zeichen." in german.get_data(as_text=True)
    good = user_data(app, password="digits-0123456", confirm="digits-0123456")
    assert post_form(admin_client, "/settings/users/new", good).status_code == 302


def test_edit_user_changes_roles_groups_and_active(app, admin_client, make_user):
    uid = make_user("carol@example.com", roles=("Viewer",), groups=("Administrators",))
    with app.app_context():
        accounts.create_group("Ops")
        db.session.commit()
    data = user_data(app, email="carol@example.com", roles=("Operator", "Viewer"), groups=("Ops",))
    del data["active"]  # unchecked box
    del data["password"], data["confirm"]
    response = post_form(admin_client, f"/settings/users/{uid}", data)
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, uid)
        assert sorted(r.name for r in user.roles) == ["Operator", "Viewer"]
        assert [g.name for g in user.groups] == ["Ops"] and user.active is False
    entry = last_audit(app, "users")
    assert entry.before["groups"] == ["Administrators"] and entry.before["active"] is True
    assert entry.after["groups"] == ["Ops"] and entry.after["active"] is False


def test_edit_user_to_a_taken_email_is_a_form_error(app, admin_client, make_user):
    uid = make_user("dave@example.com", groups=("Administrators",))
    data = user_data(app, email="ADMIN@example.com")
    response = post_form(admin_client, f"/settings/users/{uid}", data)
    assert response.status_code == 200
    assert "A user with email admin@example.com already exists." in response.get_data(as_text=True)


def test_edit_form_shows_current_values(app, admin_client, make_user):
    uid = make_user("erin@example.com", roles=("Operator",), groups=("Administrators",))
    page = admin_client.get(f"/settings/users/{uid}").get_data(as_text=True)
    assert 'value="erin@example.com"' in page
    operator = role_id(app, "Operator")
    assert re.search(
        rf'<input checked id="roles-\d+" name="roles" type="checkbox" value="{operator}">', page
    )


def test_roles_and_groups_are_checkbox_lists_and_two_roles_stay_two(app, admin_client, make_user):
    uid = make_user("kim@example.com", roles=("Viewer",), groups=("Administrators",))
    data = user_data(app, email="kim@example.com", roles=("Operator", "Viewer"))
    del data["password"], data["confirm"]
    assert post_form(admin_client, f"/settings/users/{uid}", data).status_code == 302
    with app.app_context():
        assert sorted(r.name for r in db.session.get(User, uid).roles) == ["Operator", "Viewer"]
    page = admin_client.get(f"/settings/users/{uid}").get_data(as_text=True)
    for name in ("roles", "groups"):
        assert f'id="{name}-fieldset"' in page and f'<select id="{name}"' not in page
    boxes = re.findall(r'<input (checked )?id="(roles-\d+)" name="roles" type="checkbox"', page)
    labels = dict(re.findall(r'<label for="(roles-\d+)">([^<]+)</label>', page))
    ticked = sorted(labels[box] for checked, box in boxes if checked)
    assert ticked == ["Operator", "Viewer"] and len(boxes) == 3  # the label is the role's name
    assert "<legend>Roles</legend>" in page and "<legend>Access groups</legend>" in page
    assert ' required type="checkbox"' not in page  # one box is enough, not every box


def test_admin_resets_a_password_with_the_same_policy(app, admin_client, make_user):
    uid = make_user("frank@example.com", groups=("Administrators",))
    url = f"/settings/users/{uid}/password"
    short = post_form(
        admin_client,
        url,
        {"password": "short", "confirm": "short"},
        token_from=f"/settings/users/{uid}",
    )
    assert short.status_code == 200
    assert "Passwords need at least 8 characters." in short.get_data(as_text=True)
    ok = post_form(
        admin_client,
        url,
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_from=f"/settings/users/{uid}",
    )
    assert ok.status_code == 302
    assert last_audit(app, "users").action == "password"
    other = app.test_client()
    assert login(other, "frank@example.com", PASSWORD).status_code == 200
    assert login(other, "frank@example.com", NEW_PASSWORD).status_code == 302


def test_locked_user_is_shown_and_can_be_unlocked(app, admin_client, make_user):
    uid = make_user("gina@example.com", groups=("Administrators",))
    lock_out(app, "gina@example.com")  # five wrong passwords from the test client's address
    assert "Locked until" in admin_client.get("/settings/users").get_data(as_text=True)
    other = app.test_client()
    assert login(other, "gina@example.com").status_code == 200  # refused while locked
    response = post_form(
        admin_client, f"/settings/users/{uid}/unlock", {}, token_from=f"/settings/users/{uid}"
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, uid)
        assert user.locked_until is None and user.failed_logins == 0
    assert "Locked until" not in admin_client.get("/settings/users").get_data(as_text=True)
    assert login(other, "gina@example.com").status_code == 302
    entry = last_audit(app, "users")
    assert entry.action == "unlock" and entry.before["failed_logins"] == 5


def test_delete_user(app, admin_client, make_user):
    uid = make_user("hank@example.com", groups=("Administrators",))
    response = post_form(
        admin_client, f"/settings/users/{uid}/delete", {}, token_from=f"/settings/users/{uid}"
    )
    assert response.status_code == 302
    assert user_id(app, "hank@example.com") is None
    assert last_audit(app, "users").before["email"] == "hank@example.com"


def test_user_changes_own_password(app, make_user, client):
    make_user("ivy@example.com", groups=("Administrators",))
    login(client, "ivy@example.com")
    set_policy(app, r".{12,}", "At least 12 characters.", "Mindestens 12 Zeichen.")
    assert "At least 12 characters." in client.get("/auth/password").get_data(as_text=True)
    german = client.get("/auth/password", headers={"Accept-Language": "de"})
    assert "Mindestens 12 Zeichen." in german.get_data(as_text=True)
    wrong = post_form(
        client,
        "/auth/password",
        {"current_password": "nope", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert "The current password is wrong." in wrong.get_data(as_text=True)
    short = post_form(
        client,
        "/auth/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm": "short"},
    )
    assert "At least 12 characters." in short.get_data(as_text=True)
    differ = post_form(
        client,
        "/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": "x"},
    )
    assert "The passwords differ." in differ.get_data(as_text=True)
    ok = post_form(
        client,
        "/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert ok.status_code == 302
    other = app.test_client()
    assert login(other, "ivy@example.com", NEW_PASSWORD).status_code == 302


def test_new_user_form_lists_each_clients_rule_when_there_are_several(app, admin_client):
    with app.app_context():
        client, _key = clients.create_client("Acme")
        client.password_regex = ".{30,}"
        client.password_rule_message = "Acme wants 30 characters."
        db.session.commit()
    page = admin_client.get("/settings/users/new").get_data(as_text=True)
    rules = page[page.index('id="password-rules"') :]
    assert "Acme wants 30 characters." in rules and "Passwords need at least 8" in rules
    data = user_data(app, client=client_id(app, "Acme"))
    response = post_form(admin_client, "/settings/users/new", data)
    assert response.status_code == 200
    assert '<p class="error" role="alert">Acme wants 30 characters.</p>' in response.get_data(
        as_text=True
    )
