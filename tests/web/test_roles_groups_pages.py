"""Settings → Roles and Settings → Access groups."""

import re

import sqlalchemy as sa

from portal import accounts
from portal.accounts import names
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.models import AccessGroup, Role, User
from portal.models.accounts import user_groups, user_roles
from portal.models.maintenance import bypass_groups, bypass_roles
from tests.admin_helpers import group_id, last_audit, role_id
from tests.conftest import post_form


def test_create_role_with_permission_checkboxes(app, admin_client):
    form = admin_client.get("/settings/roles/new").get_data(as_text=True)
    assert 'type="checkbox"' in form and 'value="audit:view"' in form
    response = post_form(
        admin_client, "/settings/roles/new", {"name": "Auditor", "permissions": ["audit:view"]}
    )
    assert response.status_code == 302
    assert "Auditor" in admin_client.get("/settings/roles").get_data(as_text=True)
    with app.app_context():
        role = db.session.scalar(sa.select(Role).where(Role.name == "Auditor"))
        assert role.permissions == ["audit:view"]
    entry = last_audit(app, "roles")
    assert entry.action == "create" and entry.after == {
        "name": "Auditor",
        "permissions": ["audit:view"],
    }
    # the new role is offered on the user form, a checkbox whose label text is its name
    user_form = admin_client.get("/settings/users/new").get_data(as_text=True)
    box = re.search(
        rf'id="(roles-\d+)" name="roles" type="checkbox" value="{role_id(app, "Auditor")}"',
        user_form,
    )
    assert box and f'<label for="{box.group(1)}">Auditor</label>' in user_form


def test_role_form_errors(app, admin_client):
    taken = post_form(admin_client, "/settings/roles/new", {"name": "Operator"})
    assert taken.status_code == 200
    assert "A role named Operator already exists." in taken.get_data(as_text=True)
    unknown = post_form(
        admin_client, "/settings/roles/new", {"name": "X", "permissions": ["root:everything"]}
    )
    assert unknown.status_code == 200 and "not a valid choice" in unknown.get_data(as_text=True)
    empty = post_form(admin_client, "/settings/roles/new", {"name": "  "})
    assert empty.status_code == 200 and "This field is required." in empty.get_data(as_text=True)


def test_edit_role_renames_and_changes_permissions(app, admin_client):
    rid = role_id(app, "Viewer")
    page = admin_client.get(f"/settings/roles/{rid}").get_data(as_text=True)
    assert 'checked id="permissions-0"' in page or "checked" in page
    response = post_form(
        admin_client, f"/settings/roles/{rid}", {"name": "Reader", "permissions": ["events:view"]}
    )
    assert response.status_code == 302
    entry = last_audit(app, "roles")
    assert entry.before == {"name": "Viewer", "permissions": ["dashboard:view", "events:view"]}
    assert entry.after == {"name": "Reader", "permissions": ["events:view"]}
    taken = post_form(admin_client, f"/settings/roles/{rid}", {"name": "Operator"})
    assert "A role named Operator already exists." in taken.get_data(as_text=True)


def test_delete_role_drops_user_and_bypass_associations(app, admin_client, make_user):
    uid = make_user("olga@example.com", roles=("Viewer", "Operator"), groups=("Administrators",))
    rid = role_id(app, "Operator")
    with app.app_context():
        state = get_or_create_state()
        state.bypass_roles = [db.session.get(Role, rid)]
        db.session.commit()
    assert "Bypass role" in admin_client.get("/settings/roles").get_data(as_text=True)
    response = post_form(
        admin_client, f"/settings/roles/{rid}/delete", {}, token_from=f"/settings/roles/{rid}"
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Role, rid) is None
        assert [r.name for r in db.session.get(User, uid).roles] == ["Viewer"]
        assert get_or_create_state().bypass_roles == []
        for table in (user_roles, bypass_roles):
            count = sa.select(sa.func.count()).select_from(table).where(table.c.role_id == rid)
            assert db.session.scalar(count) == 0
    assert last_audit(app, "roles").before["name"] == "Operator"


def test_delete_role_that_is_a_users_only_role_is_refused(app, admin_client, make_user):
    make_user("pete@example.com", roles=("Operator",), groups=("Administrators",))
    rid = role_id(app, "Operator")
    response = post_form(
        admin_client, f"/settings/roles/{rid}/delete", {}, token_from=f"/settings/roles/{rid}"
    )
    assert response.status_code == 200
    assert "only role of pete@example.com" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Role, rid) is not None


def test_create_edit_delete_group(app, admin_client, make_user):
    response = post_form(
        admin_client, "/settings/groups/new", {"name": "Night shift", "description": "On call"}
    )
    assert response.status_code == 302
    gid = group_id(app, "Night shift")
    assert last_audit(app, "groups").after == {"name": "Night shift", "description": "On call"}
    taken = post_form(admin_client, f"/settings/groups/{gid}", {"name": "Administrators"})
    assert taken.status_code == 200
    assert "An access group named Administrators already exists." in taken.get_data(as_text=True)
    post_form(admin_client, f"/settings/groups/{gid}", {"name": "Late shift", "description": ""})
    entry = last_audit(app, "groups")
    assert entry.before["name"] == "Night shift" and entry.after["name"] == "Late shift"
    uid = make_user("quinn@example.com", groups=("Administrators", "Late shift"))
    with app.app_context():
        state = get_or_create_state()
        state.bypass_groups = [db.session.get(AccessGroup, gid)]
        db.session.commit()
    response = post_form(
        admin_client, f"/settings/groups/{gid}/delete", {}, token_from=f"/settings/groups/{gid}"
    )
    assert response.status_code == 302
    assert ">Late shift</a>" not in admin_client.get("/settings/groups").get_data(as_text=True)
    with app.app_context():
        assert [g.name for g in db.session.get(User, uid).groups] == ["Administrators"]
        assert get_or_create_state().bypass_groups == []
        for table in (user_groups, bypass_groups):
            count = sa.select(sa.func.count()).select_from(table).where(table.c.group_id == gid)
            assert db.session.scalar(count) == 0


def test_delete_group_that_is_a_users_only_group_is_refused(app, admin_client):
    gid = group_id(app, "Administrators")
    with app.app_context():
        accounts.create_group("Spare")
        db.session.commit()
    response = post_form(
        admin_client, f"/settings/groups/{gid}/delete", {}, token_from=f"/settings/groups/{gid}"
    )
    assert response.status_code == 200
    assert "only access group of admin@example.com" in response.get_data(as_text=True)


def test_group_name_is_escaped(app, admin_client):
    post_form(admin_client, "/settings/groups/new", {"name": "<b>bold</b>", "description": ""})
    page = admin_client.get("/settings/groups").get_data(as_text=True)
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page


def test_a_name_race_becomes_a_message_not_an_error_page(app, admin_client, monkeypatch):
    # Another admin saved "Operator" between our check and our commit.
    monkeypatch.setattr(names, "taken_by", lambda *args, **kwargs: None)
    response = post_form(admin_client, "/settings/roles/new", {"name": "Operator"})
    assert response.status_code == 302 and response.headers["Location"] == "/settings/roles/new"
    page = admin_client.get("/settings/roles/new").get_data(as_text=True)
    assert "Another change saved the same name or email a moment ago" in page
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count(Role.id)).where(Role.name == "Operator")) == 1
        )
