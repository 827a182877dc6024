"""No escalation, as a property (issue 8): random sequences of role, group and user edits by a
client's admin who is not an instance admin, through the real forms. After every step no user
and no role holds a permission that the acting user could not grant, and no other client's user
changed at all."""

import shutil
import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from portal import accounts, clients
from portal.accounts.permissions import CATALOGUE, CLIENT_SETTINGS_MANAGE, USERS_MANAGE
from portal.extensions import db
from portal.models import AccessGroup, Role, User
from tests.conftest import CSRF_RE, PASSWORD_HASH, login, make_app

GRANTABLE = [code for code in CATALOGUE if code not in (CLIENT_SETTINGS_MANAGE, USERS_MANAGE)]

held_permissions = st.sets(st.sampled_from(GRANTABLE)).map(lambda s: {USERS_MANAGE, *s})
indices = st.integers(min_value=0, max_value=20)
step = st.one_of(
    st.tuples(st.just("edit_user"), indices, st.lists(indices, min_size=1, max_size=3), indices),
    st.tuples(st.just("new_user"), indices, st.lists(indices, min_size=1, max_size=3), indices),
    st.tuples(st.just("edit_role"), indices, st.sets(st.sampled_from(list(CATALOGUE)))),
    st.tuples(st.just("new_role"), st.sets(st.sampled_from(list(CATALOGUE)))),
    st.tuples(st.just("rename_group"), indices),
    st.tuples(st.just("delete_user"), indices),
    st.tuples(st.just("reset_password"), indices),
)


def snapshot(app) -> tuple[dict, dict]:
    """Return (user email → (client, permissions, roles, active), role name → permissions)."""
    with app.app_context():
        db.session.expire_all()
        users = {
            user.email: (
                user.client.name,
                frozenset(user.permissions),
                frozenset(role.name for role in user.roles),
                user.active,
                user.password_hash,
            )
            for user in db.session.scalars(sa.select(User))
        }
        roles = {
            role.name: frozenset(role.permissions) for role in db.session.scalars(sa.select(Role))
        }
        return users, roles


def ids(app, model) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(sa.select(model.id).order_by(model.id)))


def pick(items: list, index: int):
    return items[index % len(items)] if items else None


def apply(app, session, token: str, action: tuple, counter: list) -> None:
    """Send the step ``action`` through the real form."""
    name, *args = action
    counter[0] += 1
    users, roles, groups = ids(app, User), ids(app, Role), ids(app, AccessGroup)
    if name in ("edit_user", "new_user"):
        target, role_picks, group_pick = args
        with app.app_context():
            user = db.session.get(User, pick(users, target))
            data = {
                "email": user.email if name == "edit_user" else f"p{counter[0]}@a.test",
                "client": str(accounts.find_client("A").id),
                "roles": [str(pick(roles, i)) for i in role_picks],
                "groups": [str(pick(groups, group_pick))],
                "active": "y",
            }
        url = f"/settings/users/{user.id}" if name == "edit_user" else "/settings/users/new"
        if name == "new_user":
            data.update(password="property-password", confirm="property-password")
    elif name in ("edit_role", "new_role"):
        permissions = sorted(args[-1])
        if name == "edit_role":
            role_id = pick(roles, args[0])
            with app.app_context():
                role_name = db.session.get(Role, role_id).name
            url, data = f"/settings/roles/{role_id}", {"name": role_name}
        else:
            url, data = "/settings/roles/new", {"name": f"r{counter[0]}"}
        data["permissions"] = permissions
    elif name == "rename_group":
        url, data = f"/settings/groups/{pick(groups, args[0])}", {"name": f"g{counter[0]}"}
    elif name == "delete_user":
        url, data = f"/settings/users/{pick(users, args[0])}/delete", {}
    else:
        url = f"/settings/users/{pick(users, args[0])}/password"
        data = {"password": "reset-by-property", "confirm": "reset-by-property"}
    response = session.post(url, data={**data, "csrf_token": token})
    if response.status_code == 403:  # only once an earlier step took the actor's own permission
        actor = snapshot(app)[0].get("actor@a.test")
        assert actor is None or USERS_MANAGE not in actor[1], (url, "403 while allowed")
        return
    assert response.status_code in (200, 302, 404), (url, response.status_code)


def seed(app, held: set[str]) -> None:
    with app.app_context():
        clients.create_client("A")
        clients.create_client("B")
        accounts.create_role("Actor", sorted(held))
        accounts.create_role("Support", ["dashboard:view"])
        accounts.create_group("Crew")
        for email, client, role in [
            ("actor@a.test", "A", "Actor"),
            ("peer@a.test", "A", "Viewer"),
            ("boss@a.test", "A", "Administrator"),
            ("someone@b.test", "B", "Support"),
            ("admin@b.test", "B", "Operator"),
        ]:
            db.session.add(
                User(
                    email=email,
                    password_hash=PASSWORD_HASH,
                    client=accounts.find_client(client),
                    roles=accounts.find_roles([role]),
                    groups=accounts.find_groups(["Administrators"]),
                )
            )
        db.session.commit()


@settings(
    max_examples=15,
    deadline=None,
    # each example is a fresh database and a real session: no slow shrinking in CI
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(held=held_permissions, steps=st.lists(step, min_size=1, max_size=8))
def test_no_sequence_of_edits_grants_more_than_the_actor_holds(template_db, held, steps):
    folder = Path(tempfile.mkdtemp())
    shutil.copy(template_db, folder / "portal.db")
    app = make_app(folder / "portal.db", folder / "instance")
    try:
        seed(app, held)
        session = app.test_client()
        assert login(session, "actor@a.test").status_code == 302
        page = session.get("/auth/password").get_data(as_text=True)
        match = CSRF_RE.search(page)
        token = match.group(1) or match.group(2)
        counter = [0]
        users_before, roles_before = snapshot(app)
        for action in steps:
            apply(app, session, token, action, counter)
            users, roles = snapshot(app)
            for email, (_client, permissions, *_rest) in users.items():
                earlier = users_before.get(email)
                had = earlier[1] if earlier else frozenset()
                assert permissions <= had | held, (action, email, permissions - had - held)
                if earlier and earlier[0] != "A":  # another client's user: untouched
                    assert users[email] == earlier, (action, email)
            for email, earlier in users_before.items():
                if earlier[0] != "A":
                    assert email in users, (action, email)  # not deleted either
            for name, permissions in roles.items():
                had = roles_before.get(name, frozenset())
                assert permissions <= had | held, (action, name, permissions - had - held)
            users_before, roles_before = users, roles
    finally:
        with app.app_context():
            db.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
