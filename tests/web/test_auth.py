"""Sign-in: no password oracle during maintenance, lockout, safe ``next``, POST-only logout."""

import re
from datetime import timedelta

import pytest

from portal import accounts
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import User
from portal.web.auth.routes import MAINTENANCE_REFUSAL
from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_token, login, post_form
from tests.maintenance_helpers import add_group, login_refusal, set_maintenance
from tests.security_helpers import age_failures, lock_out

BLOCKED = "blocked@example.com"
LOCKED = "locked@example.com"
BYPASS = "bypass@example.com"
CSRF_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+"')


def user(app, email: str) -> User:
    with app.app_context():
        found = accounts.find_user(email)
        db.session.expunge(found)
        return found


def set_policy(app, retry_limit: int, minutes: int) -> None:
    with app.app_context():
        client = accounts.find_client(accounts.DEFAULT_CLIENT)
        client.password_retry_limit, client.lockout_minutes = retry_limit, minutes
        db.session.commit()


@pytest.fixture()
def maintenance_on(app, make_user):
    """Users: one blocked, one locked, one bypass user; maintenance on for Operator+Ops."""
    add_group(app, "Ops")
    make_user(BLOCKED, roles=("Viewer",), groups=("Ops",))
    make_user(BYPASS, roles=("Operator",), groups=("Ops",))
    make_user(LOCKED, roles=("Operator",), groups=("Ops",))
    lock_out(app, LOCKED)  # locked for the test client's address
    set_maintenance(app, roles=("Operator",), groups=("Ops",), message="Down for an upgrade.")


def test_every_refusal_looks_the_same_during_maintenance(client, maintenance_on):
    attempts = {
        "wrong password": (BYPASS, "not-the-password"),
        "right password, blocked user": (BLOCKED, PASSWORD),
        "unknown email": ("nobody@example.com", PASSWORD),
        "locked account, right password": (LOCKED, PASSWORD),
        "wrong password, blocked user": (BLOCKED, "not-the-password"),
    }
    refusals, bodies = {}, {}
    for label, (email, password) in attempts.items():
        response = login(client, email, password)
        assert response.status_code == 200, label
        page = response.get_data(as_text=True)
        refusals[label] = login_refusal(page)
        bodies[label] = CSRF_VALUE_RE.sub("CSRF", page).replace(email, "EMAIL")
    assert len(set(refusals.values())) == 1, refusals
    assert len(set(bodies.values())) == 1  # the whole page, not only the error line
    error, message = next(iter(refusals.values()))
    assert error == MAINTENANCE_REFUSAL
    assert "maintenance" in error and "check your email and password" in error
    assert message == "Down for an upgrade."
    assert login(client, BYPASS, PASSWORD).status_code == 302


def test_maintenance_refusal_does_not_count_toward_lockout(app, client, maintenance_on):
    set_policy(app, retry_limit=3, minutes=15)
    for _ in range(5):
        login(client, BLOCKED, PASSWORD)
    blocked = user(app, BLOCKED)
    assert blocked.failed_logins == 0
    assert blocked.locked_until is None
    set_maintenance(app, enabled=False)
    assert login(client, BLOCKED, PASSWORD).status_code == 302


def test_wrong_password_counts_toward_lockout_during_maintenance(app, client, maintenance_on):
    set_policy(app, retry_limit=3, minutes=15)
    for _ in range(3):
        login(client, BLOCKED, "not-the-password")
    assert user(app, BLOCKED).locked_until is not None
    set_maintenance(app, enabled=False)
    page = login(client, BLOCKED, PASSWORD).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]


def test_lockout_after_retry_limit_for_lockout_minutes(app, client, make_user):
    make_user("u@example.com")
    set_policy(app, retry_limit=3, minutes=10)
    for _ in range(2):
        page = login(client, "u@example.com", "wrong-password").get_data(as_text=True)
        assert login_refusal(page)[0] == "Invalid email or password."
    assert user(app, "u@example.com").locked_until is None
    before = utc_now()
    login(client, "u@example.com", "wrong-password")  # the third miss locks the account
    locked_until = user(app, "u@example.com").locked_until
    assert locked_until is not None
    assert timedelta(minutes=9) < locked_until - before <= timedelta(minutes=10, seconds=5)
    page = login(client, "u@example.com", PASSWORD).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]
    age_failures(app, timedelta(minutes=10, seconds=1))  # the lockout minutes pass
    assert login(client, "u@example.com", PASSWORD).status_code == 302


def test_successful_sign_in_resets_the_failure_count(app, client, make_user):
    make_user("u@example.com")
    set_policy(app, retry_limit=3, minutes=10)
    login(client, "u@example.com", "wrong-password")
    login(client, "u@example.com", "wrong-password")
    assert login(client, "u@example.com", PASSWORD).status_code == 302
    assert user(app, "u@example.com").failed_logins == 0


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://evil.example/steal", "/"),
        ("//evil.example/steal", "/"),
        ("http:evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/settings/maintenance?tab=1", "/settings/maintenance?tab=1"),
    ],
)
def test_next_is_only_followed_to_local_paths(client, target, expected):
    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login",
        query_string={"next": target},
        data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_required_redirect_carries_next(client):
    response = client.get("/settings/maintenance")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_logout_is_post_only_with_csrf(admin_client):
    assert admin_client.get("/auth/logout").status_code == 405
    assert admin_client.post("/auth/logout").status_code == 400  # no CSRF token
    assert admin_client.get("/").status_code == 200  # still signed in
    response = post_form(admin_client, "/auth/logout", {}, token_from="/")
    assert response.status_code == 302
    assert admin_client.get("/").status_code == 302


def test_deactivated_user_loses_their_session(app, client, make_user):
    make_user("u@example.com")
    assert login(client, "u@example.com").status_code == 302
    with app.app_context():
        accounts.find_user("u@example.com").active = False
        db.session.commit()
    assert client.get("/").status_code == 302
    assert login(client, "u@example.com").status_code == 200
