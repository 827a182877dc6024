"""The bypass rule on every request: sign-in, old sessions, remember-me cookies, changes mid-way."""

from datetime import timedelta

import pytest

from portal import accounts
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import load_state
from portal.models import MaintenanceState, User
from portal.web.auth.routes import MAINTENANCE_REFUSAL
from tests.conftest import PASSWORD, login, make_app
from tests.maintenance_helpers import add_group, login_refusal, set_maintenance

MESSAGE = "Upgrading the gateway.\nBack at 06:00 UTC."
# (holds a bypass role, holds a bypass group, may use the portal)
RULE = [(True, True, True), (True, False, False), (False, True, False), (False, False, False)]
EMAIL = "user@example.com"


@pytest.fixture()
def groups(app):
    """Bypass group Ops and an ordinary group Staff; the bypass role is Operator."""
    add_group(app, "Ops")
    add_group(app, "Staff")


def member(make_user, role_in: bool, group_in: bool) -> int:
    return make_user(
        EMAIL,
        roles=("Operator",) if role_in else ("Viewer",),
        groups=("Ops",) if group_in else ("Staff",),
    )


def enable(app) -> None:
    set_maintenance(app, roles=("Operator",), groups=("Ops",), message=MESSAGE)


@pytest.mark.parametrize(("role_in", "group_in", "allowed"), RULE)
def test_may_bypass_needs_role_and_group(app, groups, make_user, role_in, group_in, allowed):
    from portal.maintenance import may_bypass

    member(make_user, role_in, group_in)
    enable(app)
    with app.app_context():
        user = accounts.find_user(EMAIL)
        assert may_bypass(user, load_state()) is allowed
        assert may_bypass(user, MaintenanceState(enabled=False)) is True


@pytest.mark.parametrize(("role_in", "group_in", "allowed"), RULE)
def test_fresh_sign_in(app, client, groups, make_user, role_in, group_in, allowed):
    member(make_user, role_in, group_in)
    enable(app)
    response = login(client, EMAIL)
    if allowed:
        assert response.status_code == 302
        assert EMAIL in client.get("/").get_data(as_text=True)
    else:
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert MAINTENANCE_REFUSAL in page
        assert client.get("/").status_code == 302  # not signed in


@pytest.mark.parametrize(("role_in", "group_in", "allowed"), RULE)
def test_session_opened_before_maintenance(
    app, client, groups, make_user, role_in, group_in, allowed
):
    member(make_user, role_in, group_in)
    assert login(client, EMAIL).status_code == 302
    enable(app)
    response = client.get("/")
    if allowed:
        assert response.status_code == 200
        assert "Back at 06:00 UTC." in response.get_data(as_text=True)  # header banner
        return
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out because the gateway is in maintenance" in page
    assert login_refusal(page)[1] == "Upgrading the gateway.\nBack at 06:00 UTC."
    assert client.get("/").status_code == 302  # the session is really gone


@pytest.mark.parametrize(("role_in", "group_in", "allowed"), RULE)
def test_remember_me_cookie(app, client, groups, make_user, role_in, group_in, allowed):
    member(make_user, role_in, group_in)
    assert login(client, EMAIL, remember="y").status_code == 302
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")
    enable(app)
    response = client.get("/")
    if allowed:
        assert response.status_code == 200  # signed in again from the cookie alone
        assert EMAIL in response.get_data(as_text=True)
        assert client.get_cookie("remember_token") is not None
        return
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert client.get_cookie("remember_token") is None  # cleared, so it cannot come back
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(("role_in", "group_in", "allowed"), RULE)
def test_membership_changed_during_maintenance(
    app, client, groups, make_user, role_in, group_in, allowed
):
    user_id = member(make_user, True, True)
    enable(app)
    assert login(client, EMAIL).status_code == 302
    assert client.get("/").status_code == 200
    with app.app_context():
        user = db.session.get(User, user_id)
        user.roles = accounts.find_roles(["Operator" if role_in else "Viewer"])
        user.groups = accounts.find_groups(["Ops" if group_in else "Staff"])
        db.session.commit()
    response = client.get("/")
    assert response.status_code == (200 if allowed else 302)


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/", {"Accept": "application/json"}), ("/api/v1/maintenance", {})],
)
def test_blocked_json_caller_gets_503_with_message(app, client, groups, make_user, path, headers):
    member(make_user, True, False)
    assert login(client, EMAIL).status_code == 302
    enable(app)
    response = client.get(path, headers=headers)
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "maintenance"
    assert body["message"] == MESSAGE
    assert client.get("/").status_code == 302  # and the session has ended


def test_bypass_user_keeps_working_and_others_after_disable(app, client, groups, make_user):
    member(make_user, False, True)
    enable(app)
    assert login(client, EMAIL).status_code == 200
    set_maintenance(app, enabled=False, roles=("Operator",), groups=("Ops",))
    assert login(client, EMAIL).status_code == 302


def test_state_survives_a_new_app_and_never_times_out(app, db_path, tmp_path, groups, make_user):
    member(make_user, True, False)
    enable(app)
    with app.app_context():
        load_state().enabled_since = utc_now() - timedelta(days=60)
        db.session.commit()
        db.engine.dispose()
    restarted = make_app(db_path, tmp_path / "other-instance")
    try:
        with restarted.app_context():
            state = load_state()
            assert state.enabled
            assert state.message == MESSAGE
            assert [role.name for role in state.bypass_roles] == ["Operator"]
        client = restarted.test_client()
        page = login(client, EMAIL, PASSWORD).get_data(as_text=True)
        assert MAINTENANCE_REFUSAL in page
    finally:
        with restarted.app_context():
            db.engine.dispose()


def test_healthz_and_login_stay_open_during_maintenance(app, client, groups):
    enable(app)
    assert client.get("/healthz").get_json()["maintenance"] is True
    assert client.get("/auth/login").status_code == 200


def test_blocked_user_opening_the_login_page_is_signed_out_there(app, client, groups, make_user):
    member(make_user, True, False)
    assert login(client, EMAIL, remember="y").status_code == 302
    enable(app)
    response = client.get("/auth/login?next=/auth/login")
    assert response.status_code == 200  # not bounced back and forth
    assert login_refusal(response.get_data(as_text=True))[1] == MESSAGE
    assert client.get_cookie("remember_token") is None
    assert client.get("/").status_code == 302
