"""Sessions that end: sign-out, password changes, deactivation and removal end copied cookies."""

import pytest
import requests

from portal import accounts
from portal.extensions import db
from tests.admin_helpers import user_id
from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_token, login, post_form
from tests.live import csrf_from, form_post

NEW_PASSWORD = "a-brand-new-password"
COOKIES = ("session", "remember_token")


def signed_in(app, email: str = ADMIN_EMAIL, password: str = PASSWORD):
    client = app.test_client()
    assert login(client, email, password, remember="y").status_code == 302
    return client


def copy(client, app, names=COOKIES):
    """Return a new browser holding copies of ``client``'s cookies (as a thief would)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


@pytest.mark.parametrize("names", [COOKIES, ("session",), ("remember_token",)])
def test_sign_out_ends_copied_session_and_remember_cookie(app, names):
    client = signed_in(app)
    thief = copy(client, app, names)
    assert is_signed_in(thief)  # a copy works while the session is open...
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert not is_signed_in(client)
    assert not is_signed_in(thief)  # ...and never after sign-out


def test_sign_out_ends_only_that_session(app):
    laptop, phone = signed_in(app), signed_in(app)
    laptop.post("/auth/logout", data={"csrf_token": csrf_token(laptop, "/")})
    assert is_signed_in(phone)


def test_admin_password_reset_ends_every_session_of_the_user(app, admin_client, make_user):
    make_user("ann@example.com")
    uid = user_id(app, "ann@example.com")
    ann = signed_in(app, "ann@example.com")
    remembered = copy(ann, app, ("remember_token",))
    response = post_form(
        admin_client,
        f"/settings/users/{uid}/password",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_from=f"/settings/users/{uid}",
    )
    assert response.status_code == 302
    assert not is_signed_in(ann)
    assert not is_signed_in(remembered)
    assert is_signed_in(admin_client)  # the admin who did it stays signed in


def test_own_password_change_keeps_this_session_and_ends_the_others(app):
    here, elsewhere = signed_in(app), signed_in(app)
    response = post_form(
        here,
        "/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)


def test_cli_password_change_ends_sessions(app, runner):
    client = signed_in(app)
    result = runner.invoke(args=["users", "set-password", ADMIN_EMAIL, "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert not is_signed_in(client)


def test_deactivation_and_removal_end_sessions(app, admin_client, make_user):
    make_user("bea@example.com", groups=("Administrators",))
    make_user("cal@example.com", groups=("Administrators",))
    bea, cal = signed_in(app, "bea@example.com"), signed_in(app, "cal@example.com")
    with app.app_context():
        user = accounts.find_user("bea@example.com")
        accounts.update_user(user, user.email, user.client, user.roles, user.groups, active=False)
        db.session.commit()
    assert not is_signed_in(bea)
    uid = user_id(app, "cal@example.com")
    post_form(
        admin_client, f"/settings/users/{uid}/delete", {}, token_from=f"/settings/users/{uid}"
    )
    assert not is_signed_in(cal)


def test_sign_in_starts_a_fresh_session(app, client):
    anonymous_token = csrf_token(client, "/auth/login")
    assert login(client).status_code == 302
    # Nothing of the anonymous session survives: its CSRF token is no longer accepted.
    response = client.post("/auth/logout", data={"csrf_token": anonymous_token})
    assert response.status_code == 400
    assert is_signed_in(client)


def test_copied_remember_cookie_fails_after_sign_out_live(live_url):
    browser = requests.Session()
    form_post(
        browser,
        live_url + "/auth/login",
        {"email": ADMIN_EMAIL, "password": PASSWORD, "remember": "y"},
    )
    remember = browser.cookies.get("remember_token")
    assert remember
    thief = requests.Session()
    thief.cookies.set("remember_token", remember)
    assert thief.get(live_url + "/", allow_redirects=False, timeout=10).status_code == 200
    page = browser.get(live_url + "/", timeout=10).text
    browser.post(live_url + "/auth/logout", data={"csrf_token": csrf_from(page)}, timeout=10)
    replay = requests.Session()
    replay.cookies.set("remember_token", remember)
    assert replay.get(live_url + "/", allow_redirects=False, timeout=10).status_code == 302


def test_session_ended_by_maintenance_stays_ended_afterwards(app, make_user):
    from tests.maintenance_helpers import set_maintenance

    make_user("dan@example.com", groups=("Administrators",))
    dan = signed_in(app, "dan@example.com")
    copied = copy(dan, app)
    set_maintenance(app, roles=("Administrator",), groups=("Administrators",))
    assert not is_signed_in(dan)  # blocked: signed out at the next request
    set_maintenance(app, enabled=False)
    assert not is_signed_in(copied)  # the copied cookies do not come back to life


@pytest.mark.parametrize("session_id", ["²:token", "١:token", ":token", "1:", "9" * 20 + ":t"])
def test_a_session_id_that_names_no_user_loads_nobody(app, session_id):
    from portal.security import sessions

    with app.app_context():
        assert sessions.load(session_id) is None
