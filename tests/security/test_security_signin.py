"""Sign-in security: lockouts per account and address, the per-address throttle, device cookies.

The live tests use real sockets: the attacker's connections leave from 127.0.0.2, the owner's
from 127.0.0.1 (both are local addresses on Linux).
"""

import time
from datetime import timedelta

import pytest

from portal import accounts
from portal.extensions import db
from portal.security import signins
from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_token
from tests.live import form_post, session_from
from tests.maintenance_helpers import login_refusal, set_maintenance
from tests.security_helpers import age_failures, failures

ATTACKER = "127.0.0.2"
OWNER = "127.0.0.1"


def login_from(client, address: str, email: str, password: str, **extra):
    """Sign in through the form as a browser at ``address`` would."""
    environ = {"REMOTE_ADDR": address}
    token = csrf_token(client, "/auth/login")
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    return client.post("/auth/login", data=data, environ_base=environ)


def test_stranger_cannot_lock_the_owner_out_live(live_url):
    login_url = live_url + "/auth/login"
    attacker = session_from(ATTACKER)
    for _ in range(5):  # the client's retry limit
        page = form_post(attacker, login_url, {"email": ADMIN_EMAIL, "password": "guess"}).text
        assert "Invalid email or password." in page
    # The attacker's address is now locked out of the account, even with the right password...
    page = form_post(attacker, login_url, {"email": ADMIN_EMAIL, "password": PASSWORD}).text
    assert "temporarily locked" in page
    # ...while the owner, at another address, signs in as usual.
    owner = session_from(OWNER)
    response = form_post(owner, login_url, {"email": ADMIN_EMAIL, "password": PASSWORD})
    assert response.status_code == 302
    assert owner.get(live_url + "/", timeout=10).status_code == 200


def test_lockout_is_per_address_and_lasts_the_lockout_period(app, client):
    for _ in range(5):
        login_from(client, "10.0.0.9", ADMIN_EMAIL, "wrong")
    page = login_from(client, "10.0.0.9", ADMIN_EMAIL, PASSWORD).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]
    age_failures(app, timedelta(minutes=15, seconds=1))  # the client's lockout period passes
    assert login_from(client, "10.0.0.9", ADMIN_EMAIL, PASSWORD).status_code == 302


def test_success_forgets_that_address_failures_only(app, client):
    for _ in range(4):
        login_from(client, "10.0.0.1", ADMIN_EMAIL, "wrong")
        login_from(client, "10.0.0.2", ADMIN_EMAIL, "wrong")
    assert login_from(client, "10.0.0.1", ADMIN_EMAIL, PASSWORD).status_code == 302
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    login_from(client, "10.0.0.2", ADMIN_EMAIL, "wrong")  # the fifth from 10.0.0.2
    page = login_from(client, "10.0.0.2", ADMIN_EMAIL, PASSWORD).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]


def test_address_is_throttled_across_accounts_with_retry_after(app, client, make_user):
    app.config["LOGIN_THROTTLE_PARSED"] = signins.Throttle(limit=6, seconds=300)
    emails = [f"user{n}@example.com" for n in range(3)]
    for email in emails:
        make_user(email)
    for n in range(6):  # two misses per account: no account reaches its retry limit
        response = login_from(client, ATTACKER, emails[n % 3], "wrong")
        assert response.status_code == 200
    response = login_from(client, ATTACKER, "nobody@example.com", "wrong")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 300
    assert "Too many sign-in attempts" in response.get_data(as_text=True)
    # Even the right password waits; another address is not affected.
    assert login_from(client, ATTACKER, ADMIN_EMAIL, PASSWORD).status_code == 429
    assert login_from(app.test_client(), OWNER, ADMIN_EMAIL, PASSWORD).status_code == 302
    age_failures(app, timedelta(seconds=301))
    assert login_from(client, ATTACKER, emails[0], "wrong").status_code == 200


def test_default_throttle_is_30_per_5_minutes(app, client):
    started = time.monotonic()
    for _ in range(30):
        assert login_from(client, ATTACKER, "nobody@example.com", "wrong").status_code == 200
    response = login_from(client, ATTACKER, "nobody@example.com", "wrong")
    assert response.status_code == 429
    # The window runs from the first miss: Retry-After is what is left of 300 s.
    elapsed = time.monotonic() - started
    assert 300 - elapsed - 1 <= int(response.headers["Retry-After"]) <= 300


def test_refusal_only_because_of_maintenance_is_not_a_failure(app, client, make_user):
    make_user("viewer@example.com", groups=("Administrators",))
    set_maintenance(app, roles=("Administrator",), groups=("Administrators",))
    app.config["LOGIN_THROTTLE_PARSED"] = signins.Throttle(limit=3, seconds=300)
    for _ in range(5):
        page = login_from(client, ATTACKER, "viewer@example.com", PASSWORD)
        assert page.status_code == 200
    assert failures(app, ATTACKER) == 0
    # Wrong passwords during maintenance count, with the same page as every refusal.
    for _ in range(3):
        assert login_from(client, ATTACKER, "viewer@example.com", "wrong").status_code == 200
    assert login_from(client, ATTACKER, "viewer@example.com", "wrong").status_code == 429


def test_forged_forwarded_for_changes_nothing_without_a_trusted_proxy(app, client):
    app.config["LOGIN_THROTTLE_PARSED"] = signins.Throttle(limit=3, seconds=300)
    for n in range(3):
        token = csrf_token(client, "/auth/login")
        client.post(
            "/auth/login",
            data={"email": "nobody@example.com", "password": "x", "csrf_token": token},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
    assert failures(app, "127.0.0.1") == 3
    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert response.status_code == 429


def test_trusted_proxy_count_reads_the_forwarded_address(tmp_path, db_path):
    from tests.conftest import make_app

    app = make_app(db_path, tmp_path / "proxied", TRUSTED_PROXIES=1)
    client = app.test_client()
    token = csrf_token(client, "/auth/login")
    client.post(
        "/auth/login",
        data={"email": "nobody@example.com", "password": "x", "csrf_token": token},
        headers={"X-Forwarded-For": "203.0.113.5"},
    )
    assert failures(app, "203.0.113.5") == 1
    assert failures(app, "127.0.0.1") == 0


def test_distributed_guessing_needs_the_device_cookie(app, client, make_user):
    """Many addresses each under the retry limit: the account then only takes browsers that
    signed in to it before; the owner's own browser still gets in."""
    owner = app.test_client()
    assert login_from(owner, OWNER, ADMIN_EMAIL, PASSWORD).status_code == 302  # device cookie
    owner.post("/auth/logout", data={"csrf_token": csrf_token(owner, "/")})
    for n in range(signins.ACCOUNT_ALARM_FACTOR * 5):
        login_from(client, f"10.1.0.{n}", ADMIN_EMAIL, "wrong")
    fresh = app.test_client()  # a new browser, even with the right password, waits
    page = login_from(fresh, "10.2.0.1", ADMIN_EMAIL, PASSWORD).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]
    assert login_from(owner, OWNER, ADMIN_EMAIL, PASSWORD).status_code == 302
    age_failures(app, timedelta(minutes=15, seconds=1))
    assert login_from(fresh, "10.2.0.1", ADMIN_EMAIL, PASSWORD).status_code == 302


def test_forged_device_cookie_is_ignored(app, client):
    for n in range(signins.ACCOUNT_ALARM_FACTOR * 5):
        login_from(client, f"10.1.0.{n}", ADMIN_EMAIL, "wrong")
    client.set_cookie("portal_device", "WzFd.forged.signature")
    page = login_from(client, "10.2.0.1", ADMIN_EMAIL, PASSWORD).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]


def test_admin_unlock_clears_every_address(app, admin_client):
    client = app.test_client()
    for _ in range(5):
        login_from(client, ATTACKER, "admin@example.com", "wrong")
    with app.app_context():
        user = accounts.find_user(ADMIN_EMAIL)
        uid = user.id
        db.session.commit()
    token = csrf_token(admin_client, f"/settings/users/{uid}")
    admin_client.post(f"/settings/users/{uid}/unlock", data={"csrf_token": token})
    assert failures(app, ATTACKER) == 0
    assert login_from(client, ATTACKER, ADMIN_EMAIL, PASSWORD).status_code == 302


@pytest.mark.parametrize("value", ["30 per 5 minutes", "30/5m", "10/hour", "5 per 30 seconds"])
def test_throttle_setting_formats(value):
    from portal.security.config import parse_throttle

    rule = parse_throttle(value)
    assert rule.limit >= 1 and rule.seconds >= 30


def test_old_failures_are_pruned_beyond_two_lockout_periods(app, client):
    for _ in range(3):
        login_from(client, ATTACKER, ADMIN_EMAIL, "wrong")
    age_failures(app, timedelta(minutes=29))
    login_from(client, ATTACKER, ADMIN_EMAIL, "wrong")
    assert failures(app) == 4  # still within two lockout periods (2 × 15 minutes)
    age_failures(app, timedelta(minutes=2))
    login_from(client, ATTACKER, ADMIN_EMAIL, "wrong")
    assert failures(app) == 2


def test_audit_log_names_the_address(app, client):
    from tests.admin_helpers import audit_entries

    login_from(client, ATTACKER, ADMIN_EMAIL, "wrong")
    assert login_from(client, OWNER, ADMIN_EMAIL, PASSWORD).status_code == 302
    descriptions = [entry.description for entry in audit_entries(app, "auth")]
    assert f"Sign-in refused (wrong) from {ATTACKER}" in descriptions
    assert f"Signed in from {OWNER}" in descriptions


@pytest.mark.parametrize(
    ("remote", "counted_as"),
    [
        ("127.0.0.2", "127.0.0.2"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (None, ""),
    ],
)
def test_failures_are_counted_per_ipv4_address_or_ipv6_slash_64(remote, counted_as):
    assert signins.source(remote) == counted_as


def test_rotating_ipv6_addresses_inside_a_64_does_not_escape_the_throttle(app, client):
    app.config["LOGIN_THROTTLE_PARSED"] = signins.Throttle(limit=3, seconds=300)
    for n in range(3):
        login_from(client, f"2001:db8::{n + 1}", "nobody@example.com", "wrong")
    assert login_from(client, "2001:db8::99", ADMIN_EMAIL, PASSWORD).status_code == 429
