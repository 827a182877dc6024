"""The menu, the Settings and Client Settings overview pages, breadcrumbs and ``/login``."""

import re

import pytest

from portal import accounts
from portal.accounts.permissions import (
    AUDIT_VIEW,
    CLIENT_SETTINGS_MANAGE,
    USERS_MANAGE,
    WORKFLOWS_MANAGE,
)
from portal.extensions import db
from portal.web import navigation
from tests.conftest import login


def menu_links(html: str) -> list[str]:
    """Return the addresses the main menu links to, in order."""
    menu = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S)
    return re.findall(r'href="([^"]+)"', menu.group(1)) if menu else []


def crumbs(html: str) -> list[tuple[str, str]]:
    """Return (address or "", label) of each breadcrumb; "" for the current page."""
    trail = re.search(r'<nav aria-label="Breadcrumb"[^>]*>(.*?)</nav>', html, re.S)
    if trail is None:
        return []
    items = re.findall(r"<li>(.*?)</li>", trail.group(1), re.S)
    return [
        (re.search(r'href="([^"]*)"', item).group(1) if "href" in item else "", strip(item))
        for item in items
    ]


def strip(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).strip()


def signed_in(app, make_user, permissions: list[str] | None = None, role: str = "Viewer"):
    """Return a test client signed in as a user holding ``permissions`` (or ``role``)."""
    if permissions is not None:
        role = "Only " + " ".join(permissions)
        with app.app_context():
            accounts.create_role(role, permissions)
            db.session.commit()
    make_user("navigation@example.com", roles=(role,), groups=("Administrators",))
    client = app.test_client()
    assert login(client, "navigation@example.com").status_code == 302
    return client


def test_overview_pages_open_for_any_permission_of_a_page_they_list():
    assert navigation.SETTINGS.permissions == (
        WORKFLOWS_MANAGE,
        USERS_MANAGE,
        CLIENT_SETTINGS_MANAGE,
        AUDIT_VIEW,
    )
    assert navigation.CLIENT_SETTINGS.permissions == (CLIENT_SETTINGS_MANAGE, AUDIT_VIEW)
    assert navigation.find("settings.maintenance") in navigation.CLIENT_SETTINGS.children


def test_the_admin_menu_has_every_page_grouped(admin_client):
    links = menu_links(admin_client.get("/").get_data(as_text=True))
    assert links[:3] == ["/", "/events", "/settings"]
    client_settings = links.index("/settings/client-settings")
    assert links[client_settings + 1 : client_settings + 4] == [
        "/settings/maintenance",
        "/settings/maintenance/windows",
        "/settings/clients",
    ]
    assert {"/settings/users", "/settings/roles", "/settings/groups"} <= set(links)
    assert {"/settings/workflows", "/settings/triggers", "/settings/audit"} <= set(links)


def test_a_viewer_sees_no_settings_and_gets_403(app, make_user):
    client = signed_in(app, make_user)
    assert menu_links(client.get("/").get_data(as_text=True)) == ["/", "/events"]
    assert client.get("/settings").status_code == 403
    assert client.get("/settings/client-settings").status_code == 403


def test_an_operator_sees_only_automation(app, make_user):
    client = signed_in(app, make_user, role="Operator")
    html = client.get("/settings").get_data(as_text=True)
    assert menu_links(html) == [
        "/",
        "/events",
        "/settings",
        "/settings/workflows",
        "/settings/triggers",
    ]
    assert re.findall(r"<h2>([^<]+)</h2>", html) == ["Automation"]
    assert client.get("/settings/client-settings").status_code == 403


def test_an_auditor_opens_client_settings_with_the_window_report_only(app, make_user):
    client = signed_in(app, make_user, permissions=[AUDIT_VIEW])
    response = client.get("/settings/client-settings")
    assert response.status_code == 200
    main = response.get_data(as_text=True).split("<main", 1)[1]
    assert 'href="/settings/maintenance/windows"' in main
    assert 'href="/settings/maintenance"' not in main and 'href="/settings/clients"' not in main
    assert "Off" in strip(re.search(r'id="maintenance-status".*?</section>', main, re.S).group(0))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/settings/users", [("/settings", "Settings"), ("", "Users")]),
        (
            "/settings/users/1",
            [("/settings", "Settings"), ("/settings/users", "Users"), ("", "admin@example.com")],
        ),
        (
            "/settings/maintenance",
            [
                ("/settings", "Settings"),
                ("/settings/client-settings", "Client Settings"),
                ("", "Maintenance Mode"),
            ],
        ),
        (
            "/settings/clients/new",
            [
                ("/settings", "Settings"),
                ("/settings/client-settings", "Client Settings"),
                ("/settings/clients", "Clients"),
                ("", "New client"),
            ],
        ),
        ("/settings/client-settings", [("/settings", "Settings"), ("", "Client Settings")]),
        ("/settings", []),  # the top of the menu: nothing above it
        ("/", []),
    ],
)
def test_breadcrumbs_lead_up_the_menu(admin_client, url, expected):
    assert crumbs(admin_client.get(url).get_data(as_text=True)) == expected


@pytest.mark.parametrize(
    ("target", "location"),
    [
        (None, "/auth/login"),
        ("/settings/users?page=2", "/auth/login?next=/settings/users?page%3D2"),
        ("https://evil.example/", "/auth/login"),
        ("//evil.example/", "/auth/login"),
        ("/\\evil.example", "/auth/login"),
        ("/ok\r\nSet-Cookie: x=1", "/auth/login"),
    ],
)
def test_login_redirects_to_the_sign_in_page_with_a_safe_next_only(client, target, location):
    response = client.get("/login", query_string={"next": target} if target else {})
    assert response.status_code == 301
    assert response.headers["Location"] == location
