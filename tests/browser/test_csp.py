"""Every page of the portal in a real browser: the CSP header is there and nothing violates it."""

import pytest

from portal import create_app
from tests.browser.pages import sign_in
from tests.test_routes_inventory import routes

pytestmark = pytest.mark.browser


def html_pages(live_server, tmp_path) -> list[str]:
    """Return the URL of every GET page (not the API) from the route inventory."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": live_server.env["PORTAL_SQLALCHEMY_DATABASE_URI"]},
        instance_path=str(tmp_path / "instance"),
    )
    urls = {
        url
        for endpoint, method, url in routes(app)
        if method == "GET" and not endpoint.startswith(("api.", "static", "dashboard.stats"))
    }
    return sorted(urls) + ["/no-such-page"]


def test_no_page_violates_the_content_security_policy(new_page, live_server, tmp_path):
    page = new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    sign_in(page)
    visited = 0
    for url in html_pages(live_server, tmp_path):
        response = page.goto(url)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        csp = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, url
        page.wait_for_timeout(300)  # let the page's scripts run (live counters, previews)
        visited += 1
    assert visited >= 15
    assert not violations, violations


def test_the_portal_cannot_be_framed(new_page, live_server):
    page = new_page()
    page.goto("/auth/login")
    page.set_content(f'<iframe id="f" src="{live_server.url}/auth/login"></iframe>')
    page.wait_for_timeout(1000)
    frame = page.frame_locator("#f")
    assert frame.locator("[name=password]").count() == 0
