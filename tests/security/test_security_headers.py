"""Strict headers on every HTML response: CSP without inline scripts, no framing, no sniffing."""

import pytest

from portal.security.headers import CONTENT_SECURITY_POLICY
from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_token, login, make_app
from tests.test_routes_inventory import routes


def assert_strict(response, where) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    assert "'self'" in directives.get("script-src", ""), where
    assert "unsafe-inline" not in directives.get("script-src", "unsafe-inline"), where
    assert directives.get("frame-ancestors") == "'none'", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where


def test_policy_has_no_inline_scripts():
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_every_html_endpoint_of_the_route_inventory(app, admin_client):
    checked = 0
    for endpoint, method, url in routes(app):
        if method != "GET" or endpoint.startswith("api."):
            continue
        response = admin_client.get(url)
        if response.mimetype == "text/html":
            assert_strict(response, (endpoint, url, response.status_code))
            checked += 1
    assert checked >= 15


@pytest.mark.parametrize("url", ["/auth/login", "/no-such-page", "/settings/users/999999"])
def test_anonymous_and_error_pages(client, url):
    response = client.get(url)
    assert response.mimetype == "text/html"
    assert_strict(response, url)


def test_forbidden_and_throttled_pages(app, client, make_user):
    make_user("viewer@example.com")
    assert login(client, "viewer@example.com").status_code == 302
    response = client.get("/settings/users")
    assert response.status_code == 403
    assert_strict(response, "403")
    app.config["LOGIN_THROTTLE_PARSED"] = type(app.config["LOGIN_THROTTLE_PARSED"])(1, 60)
    other = app.test_client()
    for _ in range(2):
        token = csrf_token(other, "/auth/login")
        response = other.post(
            "/auth/login", data={"email": "x@example.com", "password": "y", "csrf_token": token}
        )
    assert response.status_code == 429
    assert_strict(response, "429")


def test_api_answers_carry_nosniff_too(client):
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_hsts_or_secure_cookies_over_plain_http(client):
    response = login(client)
    assert "Strict-Transport-Security" not in response.headers
    assert all("Secure" not in c for c in response.headers.getlist("Set-Cookie"))


def test_https_config_sends_hsts_and_secure_cookies(db_path, tmp_path):
    app = make_app(db_path, tmp_path / "https", HTTPS=True)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # as behind a TLS proxy with ProxyFix
    response = client.get("/auth/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": ADMIN_EMAIL, "password": PASSWORD, "remember": "y", "csrf_token": token},
        headers={"Referer": "https://localhost/auth/login"},  # CSRF checks it over HTTPS
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    names = {cookie.split("=", 1)[0] for cookie in cookies}
    assert {"session", "remember_token", "portal_device"} <= names
    assert all("Secure" in cookie for cookie in cookies), cookies
