"""A user made to change their password at first sign-in (portal.web.auth.gate), and the users
list's "Last signed in" and "May sign in during maintenance" columns."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import User
from tests.admin_helpers import audit_entries, last_audit, user_id
from tests.cli.test_cli import run
from tests.conftest import PASSWORD, login, post_form
from tests.events_support import api_key
from tests.maintenance_helpers import set_maintenance
from tests.web.test_users_page import user_data

NEW = "a-kestrel-over-the-harbour"


def flag(app, email: str) -> bool:
    with app.app_context():
        return db.session.scalar(sa.select(User.must_change_password).where(User.email == email))


def force(app, email: str, value: bool = True) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(User).where(User.email == email).values(must_change_password=value)
        )
        db.session.commit()


@pytest.fixture()
def held(app, make_user):
    """A signed-in test client of a user who must change their password."""
    make_user("held@example.com", groups=("Administrators",))
    force(app, "held@example.com")
    client = app.test_client()
    assert login(client, "held@example.com").status_code == 302
    return client


def test_the_new_user_form_sets_the_flag_and_audits_it(app, admin_client):
    data = user_data(app, email="temp@example.com", must_change_password="y")
    assert post_form(admin_client, "/settings/users/new", data).status_code == 302
    assert flag(app, "temp@example.com") is True
    assert last_audit(app, "users").after["must_change_password"] is True
    data = user_data(app, email="own@example.com")
    assert post_form(admin_client, "/settings/users/new", data).status_code == 302
    assert flag(app, "own@example.com") is False  # unchecked by default


def test_the_edit_form_changes_the_flag_with_before_and_after(app, admin_client, make_user):
    uid = make_user("edit@example.com", groups=("Administrators",))
    page = admin_client.get(f"/settings/users/{uid}").get_data(as_text=True)
    assert 'name="must_change_password"' in page
    data = user_data(app, email="edit@example.com", must_change_password="y")
    del data["password"], data["confirm"]
    assert post_form(admin_client, f"/settings/users/{uid}", data).status_code == 302
    entry = last_audit(app, "users")
    assert entry.before["must_change_password"] is False
    assert entry.after["must_change_password"] is True
    assert flag(app, "edit@example.com") is True


@pytest.mark.parametrize("ticked", [True, False])
def test_an_admin_reset_offers_the_flag_ticked(app, admin_client, make_user, ticked):
    uid = make_user("reset@example.com")
    page = admin_client.get(f"/settings/users/{uid}").get_data(as_text=True)
    assert re.search(r'<input checked id="reset-must-change-password"', page)
    data = {"password": NEW, "confirm": NEW}
    if ticked:
        data["must_change_password"] = "y"
    url = f"/settings/users/{uid}/password"
    response = post_form(admin_client, url, data, token_from=f"/settings/users/{uid}")
    assert response.status_code == 302
    assert flag(app, "reset@example.com") is ticked
    assert last_audit(app, "users").after == {"must_change_password": ticked}


def test_every_page_leads_to_the_password_page(held):
    for path in ("/", "/events?status=failed", "/settings/users"):
        response = held.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/auth/password?next="), path
    location = urlsplit(held.get("/events?status=failed").headers["Location"])
    assert parse_qs(location.query)["next"] == ["/events?status=failed"]  # back there afterwards
    page = held.get("/auth/password").get_data(as_text=True)
    assert 'id="password-change-required"' in page


def test_sign_out_static_files_and_the_poll_still_work(held):
    assert held.get("/static/portal.css").status_code == 200
    assert held.get("/live/state").status_code == 200
    assert held.get("/healthz").status_code == 200
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', held.get("/auth/password").text)
    response = held.post("/auth/logout", data={"csrf_token": token[1]})
    assert response.headers["Location"].endswith("/auth/login")
    assert held.get("/").headers["Location"].startswith("/auth/login")


def test_api_keys_are_not_affected_but_the_session_api_is(app, held):
    key = api_key(app)
    response = held.post(
        "/api/v1/events",
        json={"type": "door.opened", "payload": {}},
        headers={"X-API-Key": key},
    )
    assert response.status_code == 202
    keyed = app.test_client()  # a key alone, no session
    assert keyed.get("/api/v1/maintenance", headers={"X-API-Key": key}).status_code == 200
    refused = app.test_client()
    login(refused, "held@example.com")
    response = refused.get("/api/v1/maintenance")
    assert response.status_code == 403
    assert response.get_json()["error"] == "password change required"


def test_choosing_a_new_password_clears_the_flag_and_continues(app, held):
    data = {"current_password": PASSWORD, "new_password": PASSWORD, "confirm": PASSWORD}
    response = post_form(held, "/auth/password?next=/events", data)
    assert "other than your current one" in response.get_data(as_text=True)
    assert flag(app, "held@example.com") is True

    data = {"current_password": PASSWORD, "new_password": NEW, "confirm": NEW}
    response = post_form(held, "/auth/password?next=/events", data)
    assert response.status_code == 302 and response.headers["Location"] == "/events"
    assert flag(app, "held@example.com") is False
    assert held.get("/").status_code == 200
    entry = [e for e in audit_entries(app, "users") if e.action == "password"][-1]
    assert entry.before == {"must_change_password": True}
    assert entry.after == {"must_change_password": False}


def test_a_blocked_user_in_maintenance_goes_to_the_login_page_first(app, held):
    set_maintenance(app, roles=("Administrator",), groups=("Administrators",))
    response = held.get("/")
    assert response.headers["Location"].startswith("/auth/login")


def test_the_cli_can_set_the_flag(app, runner):
    args = ["--password", NEW, "--role", "Viewer", "--group", "Administrators"]
    result = run(runner, "users", "create", "cli@example.com", *args, "--must-change-password")
    assert result.exit_code == 0, result.output
    assert flag(app, "cli@example.com") is True
    result = run(runner, "users", "set-password", "cli@example.com", "--password", NEW + "-2")
    assert result.exit_code == 0, result.output
    assert flag(app, "cli@example.com") is False


# --- the users list ----------------------------------------------------------------------------


def cell(page: str, email: str, css: str) -> str:
    row = re.search(rf"<tr>\s*<td><a [^>]*>{re.escape(email)}</a>.*?</tr>", page, re.S)
    assert row, f"no row for {email}"
    found = re.search(rf'<td class="{css}">(.*?)</td>', row[0], re.S)
    return found[1].strip()


def test_last_signed_in_is_never_then_the_time_of_the_last_success(app, admin_client, make_user):
    make_user("seen@example.com")

    def shown() -> str:
        return cell(admin_client.get("/settings/users").text, "seen@example.com", "last-signed-in")

    assert shown() == "Never"
    login(app.test_client(), "seen@example.com", "wrong-password")
    assert shown() == "Never"  # a refused sign-in is no sign-in
    login(app.test_client(), "seen@example.com")
    assert re.fullmatch(
        r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC"'
        r' tabindex="0">\d{4}-\d\d-\d\d \d\d:\d\d UTC'
        r' <span class="relative">\(just now\)</span></time>',
        shown(),
    )


@pytest.mark.parametrize("enabled", [False, True])
def test_may_sign_in_during_maintenance_follows_the_rule(app, admin_client, make_user, enabled):
    make_user("both@example.com", roles=("Operator",), groups=("Administrators",))
    make_user("role-only@example.com", roles=("Operator",), groups=())
    make_user("group-only@example.com", roles=("Viewer",), groups=("Administrators",))
    set_maintenance(
        app, enabled=enabled, roles=("Administrator", "Operator"), groups=("Administrators",)
    )
    page = admin_client.get("/settings/users").text
    assert cell(page, "both@example.com", "may-bypass") == "Yes"
    assert cell(page, "role-only@example.com", "may-bypass") == "No"
    assert cell(page, "group-only@example.com", "may-bypass") == "No"
    assert cell(page, "admin@example.com", "may-bypass") == "Yes"
    assert "current bypass roles and groups" in page
    assert ("Maintenance mode is on now" in page) is enabled


def test_the_list_costs_the_same_queries_for_more_users(app, admin_client, make_user):
    set_maintenance(app, enabled=False, roles=("Administrator",), groups=("Administrators",))

    def queries() -> int:
        statements = []
        with app.app_context():
            engine = db.engine
        record = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            assert admin_client.get("/settings/users").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    make_user("one@example.com", groups=("Administrators",))
    few = queries()
    for n in range(15):
        make_user(f"many{n}@example.com", roles=("Viewer", "Operator"), groups=("Administrators",))
    assert queries() == few
    assert user_id(app, "many14@example.com")


def test_the_migration_round_trip_keeps_users_and_their_memberships(app, runner, make_user):
    make_user("member@example.com", roles=("Operator",), groups=("Administrators",))
    force(app, "member@example.com")
    for command in (["db", "downgrade", "0007"], ["db", "upgrade"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    with app.app_context():
        db.session.remove()
        user = db.session.scalar(sa.select(User).where(User.email == "member@example.com"))
        assert [role.name for role in user.roles] == ["Operator"]
        assert [group.name for group in user.groups] == ["Administrators"]
        assert user.must_change_password is False and user.last_signed_in_at is None
