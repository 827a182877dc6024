"""Changes the admin pages refuse: no settings manager left, self-lockout in maintenance."""

import pytest
import sqlalchemy as sa

from portal import accounts
from portal.extensions import db
from portal.maintenance import get_or_create_state, may_bypass
from portal.maintenance.guardrails import LAST_MANAGER, NOT_YOURSELF, SELF_LOCKOUT
from portal.models import Role, User
from portal.web.auth.routes import MAINTENANCE_REFUSAL
from tests.admin_helpers import add_group, add_role, client_id, group_id, role_id, text
from tests.conftest import login, post_form

ADMIN_ID = 1


def set_memberships(app, email: str, roles: list[str], groups: list[str]) -> None:
    with app.app_context():
        user = accounts.find_user(email)
        user.roles = accounts.find_roles(roles)
        user.groups = accounts.find_groups(groups)
        db.session.commit()


def enable_maintenance(app, roles: list[str], groups: list[str]) -> None:
    with app.app_context():
        state = get_or_create_state()
        state.enabled = True
        state.bypass_roles = accounts.find_roles(roles)
        state.bypass_groups = accounts.find_groups(groups)
        db.session.commit()


def user_form(app, email: str, roles: list[str], groups: list[str], active: bool = True) -> dict:
    data = {
        "email": email,
        "client": client_id(app),
        "roles": [role_id(app, name) for name in roles],
        "groups": [group_id(app, name) for name in groups],
    }
    if active:
        data["active"] = "y"
    return data


@pytest.fixture()
def user_admin(app, make_user):
    """A client signed in as someone who manages users but not client settings."""
    add_role(app, "User admin", ["users:manage", "dashboard:view"])
    make_user("ua@example.com", roles=("User admin",), groups=("Administrators",))
    other = app.test_client()
    assert login(other, "ua@example.com").status_code == 302
    return other


def admin_state(app) -> tuple[bool, list[str]]:
    with app.app_context():
        admin = db.session.get(User, ADMIN_ID)
        return admin.active, sorted(role.name for role in admin.roles)


def test_a_user_admin_cannot_deactivate_or_delete_the_settings_manager(app, user_admin):
    """No escalation: the admin holds permissions the user admin lacks (issue 8)."""
    data = user_form(app, "admin@example.com", ["Administrator"], ["Administrators"], active=False)
    response = post_form(user_admin, f"/settings/users/{ADMIN_ID}", data)
    assert response.status_code == 200 and "client_settings:manage" in text(response)
    url = f"/settings/users/{ADMIN_ID}/delete"
    response = post_form(user_admin, url, {}, token_from=f"/settings/users/{ADMIN_ID}")
    assert response.status_code == 200 and "You cannot delete admin@example.com" in text(response)
    assert admin_state(app) == (True, ["Administrator"])


def test_last_settings_manager_cannot_drop_the_role(app, admin_client):
    data = user_form(app, "admin@example.com", ["Viewer"], ["Administrators"])
    response = post_form(admin_client, f"/settings/users/{ADMIN_ID}", data)
    assert response.status_code == 200 and LAST_MANAGER in text(response)
    assert admin_state(app) == (True, ["Administrator"])


def test_role_edit_cannot_remove_the_last_settings_permission(app, admin_client):
    rid = role_id(app, "Administrator")
    data = {"name": "Administrator", "permissions": ["users:manage", "audit:view"]}
    response = post_form(admin_client, f"/settings/roles/{rid}", data)
    assert response.status_code == 200 and LAST_MANAGER in text(response)
    with app.app_context():
        assert "client_settings:manage" in db.session.get(Role, rid).permissions


def test_role_delete_cannot_remove_the_last_settings_permission(app, admin_client):
    set_memberships(app, "admin@example.com", ["Administrator", "Viewer"], ["Administrators"])
    rid = role_id(app, "Administrator")
    url = f"/settings/roles/{rid}/delete"
    response = post_form(admin_client, url, {}, token_from=f"/settings/roles/{rid}")
    assert response.status_code == 200 and LAST_MANAGER in text(response)
    assert role_id(app, "Administrator") == rid


def test_a_settings_manager_can_go_while_another_remains(app, make_user):
    make_user("second@example.com", roles=("Administrator",), groups=("Administrators",))
    second = app.test_client()
    assert login(second, "second@example.com").status_code == 302
    data = user_form(app, "admin@example.com", ["Viewer"], ["Administrators"], active=False)
    response = post_form(second, f"/settings/users/{ADMIN_ID}", data)
    assert response.status_code == 302
    assert admin_state(app) == (False, ["Viewer"])


def test_inactive_holders_do_not_count(app, admin_client, make_user):
    uid = make_user("idle@example.com", roles=("Administrator",), groups=("Administrators",))
    with app.app_context():
        db.session.get(User, uid).active = False
        db.session.commit()
    data = user_form(app, "admin@example.com", ["Viewer"], ["Administrators"])
    response = post_form(admin_client, f"/settings/users/{ADMIN_ID}", data)
    assert response.status_code == 200 and LAST_MANAGER in text(response)


def test_admin_cannot_deactivate_or_delete_themselves(app, admin_client, make_user):
    make_user("second@example.com", roles=("Administrator",), groups=("Administrators",))
    data = user_form(app, "admin@example.com", ["Administrator"], ["Administrators"], active=False)
    response = post_form(admin_client, f"/settings/users/{ADMIN_ID}", data)
    assert response.status_code == 200 and NOT_YOURSELF in text(response)
    url = f"/settings/users/{ADMIN_ID}/delete"
    response = post_form(admin_client, url, {}, token_from=f"/settings/users/{ADMIN_ID}")
    assert response.status_code == 200 and NOT_YOURSELF in text(response)
    assert admin_state(app) == (True, ["Administrator"])


@pytest.fixture()
def maintenance_on(app, admin_client):
    """Maintenance on; the admin bypasses through role Crew and group Administrators only."""
    add_role(app, "Crew", ["dashboard:view"])
    add_group(app, "Ops")
    set_memberships(app, "admin@example.com", ["Administrator", "Crew"], ["Administrators", "Ops"])
    enable_maintenance(app, ["Crew"], ["Administrators"])
    assert admin_client.get("/settings/users").status_code == 200  # still let in
    return admin_client


def bypass_names(app) -> dict:
    with app.app_context():
        state = get_or_create_state().to_dict()
        return {"roles": state["bypass_roles"], "groups": state["bypass_groups"]}


def test_deleting_the_bypass_group_the_admin_relies_on_is_refused(app, maintenance_on):
    gid = group_id(app, "Administrators")
    url = f"/settings/groups/{gid}/delete"
    response = post_form(maintenance_on, url, {}, token_from=f"/settings/groups/{gid}")
    assert response.status_code == 200 and SELF_LOCKOUT in text(response)
    assert bypass_names(app) == {"roles": ["Crew"], "groups": ["Administrators"]}


def test_deleting_the_bypass_role_the_admin_relies_on_is_refused(app, maintenance_on):
    rid = role_id(app, "Crew")
    url = f"/settings/roles/{rid}/delete"
    response = post_form(maintenance_on, url, {}, token_from=f"/settings/roles/{rid}")
    assert response.status_code == 200 and SELF_LOCKOUT in text(response)
    assert bypass_names(app)["roles"] == ["Crew"]


def test_deleting_another_bypass_role_is_allowed_and_leaves_the_state_consistent(
    app, maintenance_on
):
    add_role(app, "Spare", [])
    enable_maintenance(app, ["Crew", "Spare"], ["Administrators"])
    rid = role_id(app, "Spare")
    url = f"/settings/roles/{rid}/delete"
    assert (
        post_form(maintenance_on, url, {}, token_from=f"/settings/roles/{rid}").status_code == 302
    )
    assert bypass_names(app) == {"roles": ["Crew"], "groups": ["Administrators"]}
    page = maintenance_on.get("/settings/maintenance")
    assert page.status_code == 200 and ">Spare<" not in page.get_data(as_text=True)


def test_renaming_a_bypass_role_keeps_it_selected(app, maintenance_on):
    rid = role_id(app, "Crew")
    data = {"name": "Night crew", "permissions": ["dashboard:view"]}
    assert post_form(maintenance_on, f"/settings/roles/{rid}", data).status_code == 302
    assert bypass_names(app)["roles"] == ["Night crew"]
    assert maintenance_on.get("/settings/roles").status_code == 200


@pytest.mark.parametrize(
    ("roles", "groups"),
    [(["Administrator"], ["Administrators", "Ops"]), (["Administrator", "Crew"], ["Ops"])],
    ids=["drop-bypass-role", "drop-bypass-group"],
)
def test_admin_cannot_edit_own_memberships_into_a_lockout(app, maintenance_on, roles, groups):
    data = user_form(app, "admin@example.com", roles, groups)
    response = post_form(maintenance_on, f"/settings/users/{ADMIN_ID}", data)
    assert response.status_code == 200
    assert "lock yourself out" in text(response)
    assert admin_state(app) == (True, ["Administrator", "Crew"])
    assert maintenance_on.get("/settings/users").status_code == 200


def test_acceptance_create_role_group_user_then_bypass_them(app, admin_client, make_user):
    """Create a role, a group and a user in the browser forms, then make them the bypass."""
    assert (
        post_form(
            admin_client,
            "/settings/roles/new",
            {"name": "On call", "permissions": ["dashboard:view", "events:view"]},
        ).status_code
        == 302
    )
    assert (
        post_form(
            admin_client, "/settings/groups/new", {"name": "Night shift", "description": "24/7"}
        ).status_code
        == 302
    )
    data = user_form(app, "night@example.com", ["On call"], ["Night shift"])
    data.update(password="night-shift-password", confirm="night-shift-password")
    assert post_form(admin_client, "/settings/users/new", data).status_code == 302
    make_user("day@example.com", roles=("Viewer",), groups=("Night shift",))
    bypass = (["On call", "Administrator"], ["Night shift", "Administrators"])
    page = admin_client.get("/settings/maintenance").get_data(as_text=True)
    if 'name="bypass_roles"' in page:  # the maintenance form (its own branch) is merged
        form = {
            "enabled": "y",
            "message": "Back soon",
            "bypass_roles": [role_id(app, name) for name in bypass[0]],
            "bypass_groups": [group_id(app, name) for name in bypass[1]],
        }
        assert post_form(admin_client, "/settings/maintenance", form).status_code == 302
        page = admin_client.get("/settings/maintenance").get_data(as_text=True)
        preview = page[page.index('id="who-can-sign-in"') :]
        assert "night@example.com" in preview and "admin@example.com" in preview
        assert "day@example.com" not in preview
    else:
        enable_maintenance(app, *bypass)
    with app.app_context():
        state = get_or_create_state()
        users = {u.email: u for u in db.session.scalars(sa.select(User))}
        allowed = sorted(email for email, user in users.items() if may_bypass(user, state))
        assert allowed == ["admin@example.com", "night@example.com"]
    night, day = app.test_client(), app.test_client()
    assert login(night, "night@example.com", "night-shift-password").status_code == 302
    assert night.get("/").status_code == 200
    refused = login(day, "day@example.com")
    assert refused.status_code == 200
    assert MAINTENANCE_REFUSAL in text(refused)
