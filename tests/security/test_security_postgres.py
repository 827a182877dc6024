"""Sign-in security on PostgreSQL: the migration, per-address lockout, throttle, session rows.

Uses the PostgreSQL fixture of ``test_postgres`` (skips without PORTAL_TEST_POSTGRES_URI).
"""

from portal.security.config import Throttle
from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_token
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)


def attempt(client, address: str, password: str, **extra):
    token = csrf_token(client, "/auth/login")
    data = {"email": ADMIN_EMAIL, "password": password, "csrf_token": token, **extra}
    return client.post("/auth/login", data=data, environ_base={"REMOTE_ADDR": address})


def test_sign_in_security_on_postgres(pg_app):  # noqa: F811
    attacker, owner = pg_app.test_client(), pg_app.test_client()
    for _ in range(5):
        assert attempt(attacker, "10.9.0.1", "wrong").status_code == 200
    page = attempt(attacker, "10.9.0.1", PASSWORD).get_data(as_text=True)
    assert "temporarily locked" in page
    assert attempt(owner, "10.9.0.2", PASSWORD, remember="y").status_code == 302
    assert owner.get("/").status_code == 200
    thief = pg_app.test_client()
    thief.set_cookie("remember_token", owner.get_cookie("remember_token").value)
    assert thief.get("/").status_code == 200
    owner.post("/auth/logout", data={"csrf_token": csrf_token(owner, "/")})
    thief.delete_cookie("session")
    assert thief.get("/").status_code == 302

    pg_app.config["LOGIN_THROTTLE_PARSED"] = Throttle(limit=7, seconds=300)
    response = attempt(attacker, "10.9.0.1", "wrong")  # the 7th failure from that address
    assert response.status_code == 200
    response = attempt(attacker, "10.9.0.1", "wrong")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
