"""Every route is a deliberate decision: public, key-authenticated, or signed in + permission.

A new endpoint that is in none of the tables below fails this test until someone decides.
At merge, add the other branches' endpoints here (the /api/v1 endpoints → KEY_AUTHENTICATED,
settings.maintenance → client_settings:manage, dashboard.* → dashboard:view).
"""

import re

import pytest
from flask import Flask

from portal.accounts.permissions import (
    AUDIT_VIEW,
    CATALOGUE,
    CLIENT_SETTINGS_MANAGE,
    DASHBOARD_VIEW,
    EVENTS_VIEW,
    USERS_MANAGE,
    WORKFLOWS_MANAGE,
)
from tests.conftest import csrf_token, login

# Open to anyone, on purpose.
PUBLIC = {
    "static",  # CSS
    "auth.login",  # the sign-in form
    "aliases.login",  # /login: a redirect to the sign-in form
    "auth.logout",  # POST only; signing out an anonymous visitor does nothing
    "auth.reset_request",  # asking for a password-reset link (the same answer for any address)
    "auth.reset_password",  # using one (the link's token is the authentication)
    "api.healthz",  # health check for load balancers and deploy scripts
    "api.openapi",  # the API description (no key)
    "live.state",  # what an open page shows about maintenance (the login page polls it too)
    "auth.two_factor",  # the sign-in's second step (it needs the password step's session)
}

# Authenticated by the client's X-API-Key header instead of a session (SPEC §5).
# api.maintenance_state also accepts a signed-in session.
KEY_AUTHENTICATED: set[str] = {"api.ingest", "api.event_detail", "api.maintenance_state"}
# Authenticated by a personal access token (Authorization: Bearer gpat_...) with a scope.
PERSONAL_TOKEN: set[str] = {
    "api.maintenance_update",
    "api.list_events",
    "api.replay_event",
    "api.retry_delivery",
    "api.resume_workflow",
}
# Authenticated by a bearer token from the configuration (404 while none is configured).
TOKEN_AUTHENTICATED: set[str] = {"operations.metrics"}
SIGNED_IN_ONLY = None  # any signed-in user (e.g. changing one's own password)
# endpoint → the permission it requires (a tuple: any one of them)
PROTECTED: dict[str, str | tuple[str, ...] | None] = {
    "settings.maintenance_windows": (CLIENT_SETTINGS_MANAGE, AUDIT_VIEW),
    "settings.maintenance_window": (CLIENT_SETTINGS_MANAGE, AUDIT_VIEW),
    "auth.change_password": SIGNED_IN_ONLY,
    "account.tokens_page": SIGNED_IN_ONLY,
    "account.token_reveal": SIGNED_IN_ONLY,
    "account.token_dismiss": SIGNED_IN_ONLY,
    "account.token_revoke": SIGNED_IN_ONLY,
    "settings.user_token_revoke": USERS_MANAGE,
    "account.index": SIGNED_IN_ONLY,
    "account_security.two_factor": SIGNED_IN_ONLY,
    "account_security.recovery_codes": SIGNED_IN_ONLY,
    "account_security.recovery_codes_dismiss": SIGNED_IN_ONLY,
    "account_security.open_sessions": SIGNED_IN_ONLY,
    "account_security.end_session": SIGNED_IN_ONLY,
    "account_security.end_other_sessions": SIGNED_IN_ONLY,
    "settings.user_two_factor_reset": USERS_MANAGE,
    "settings.user_session_end": USERS_MANAGE,
    "dashboard.index": DASHBOARD_VIEW,
    "settings.maintenance": CLIENT_SETTINGS_MANAGE,
    # The overview pages open for anyone who may open one of the pages they list.
    "settings.index": (WORKFLOWS_MANAGE, USERS_MANAGE, CLIENT_SETTINGS_MANAGE, AUDIT_VIEW),
    "settings.client_settings": (CLIENT_SETTINGS_MANAGE, AUDIT_VIEW),
    "settings.users": USERS_MANAGE,
    "settings.user_new": USERS_MANAGE,
    "settings.user_edit": USERS_MANAGE,
    "settings.user_password": USERS_MANAGE,
    "settings.user_unlock": USERS_MANAGE,
    "settings.user_delete": USERS_MANAGE,
    "settings.roles": USERS_MANAGE,
    "settings.role_new": USERS_MANAGE,
    "settings.role_edit": USERS_MANAGE,
    "settings.role_delete": USERS_MANAGE,
    "settings.groups": USERS_MANAGE,
    "settings.group_new": USERS_MANAGE,
    "settings.group_edit": USERS_MANAGE,
    "settings.group_delete": USERS_MANAGE,
    "settings.clients": CLIENT_SETTINGS_MANAGE,
    "settings.client_new": CLIENT_SETTINGS_MANAGE,
    "settings.client_edit": CLIENT_SETTINGS_MANAGE,
    "settings.client_rotate_key": CLIENT_SETTINGS_MANAGE,
    "settings.client_key": CLIENT_SETTINGS_MANAGE,
    "settings.client_key_dismiss": CLIENT_SETTINGS_MANAGE,
    "settings.audit": AUDIT_VIEW,
    "settings.workflows": WORKFLOWS_MANAGE,
    "settings.workflow_new": WORKFLOWS_MANAGE,
    "settings.workflow_edit": WORKFLOWS_MANAGE,
    "settings.workflow_toggle": WORKFLOWS_MANAGE,
    "settings.workflow_delete": WORKFLOWS_MANAGE,
    "settings.workflow_secret": WORKFLOWS_MANAGE,
    "settings.workflow_secret_dismiss": WORKFLOWS_MANAGE,
    "settings.triggers": WORKFLOWS_MANAGE,
    "settings.trigger_new": WORKFLOWS_MANAGE,
    "settings.trigger_edit": WORKFLOWS_MANAGE,
    "settings.trigger_toggle": WORKFLOWS_MANAGE,
    "settings.trigger_delete": WORKFLOWS_MANAGE,
    "dashboard.stats": DASHBOARD_VIEW,
    "event_log.index": EVENTS_VIEW,
    "event_log.detail": EVENTS_VIEW,
    "event_log.replay": WORKFLOWS_MANAGE,
    "event_log.retry": WORKFLOWS_MANAGE,
    "event_log.resume_workflow": WORKFLOWS_MANAGE,
    "event_log.bulk_confirm": WORKFLOWS_MANAGE,
    "event_log.bulk_start": WORKFLOWS_MANAGE,
    "event_log.bulk_job": WORKFLOWS_MANAGE,
}


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """Return (endpoint, method, url) for every rule, with 1 for every URL argument."""
    found = []
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_every_endpoint_has_a_decision(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    undecided = (
        endpoints - PUBLIC - KEY_AUTHENTICATED - PERSONAL_TOKEN - TOKEN_AUTHENTICATED
    ) - set(PROTECTED)
    assert not undecided, (
        f"add these endpoints to PUBLIC, KEY_AUTHENTICATED or PROTECTED: {undecided}"
    )
    listed = PUBLIC | KEY_AUTHENTICATED | PERSONAL_TOKEN | TOKEN_AUTHENTICATED | set(PROTECTED)
    stale = listed - endpoints
    assert not stale, f"these listed endpoints no longer exist: {stale}"
    assert not PUBLIC & set(PROTECTED) and not KEY_AUTHENTICATED & set(PROTECTED)


def test_decorators_match_the_table(app):
    for endpoint, view in app.view_functions.items():
        declared = getattr(view, "required_permission", None)
        if endpoint in PROTECTED:
            assert declared == PROTECTED[endpoint], endpoint
            codes = declared if isinstance(declared, tuple) else (declared,)
            assert all(code in CATALOGUE for code in codes if code is not None)
        else:
            assert declared is None, f"{endpoint} requires {declared} but is listed as open"


def send(client, method: str, url: str, form_page: str = "/auth/login"):
    if method == "GET":
        return client.get(url)
    # A real token, so the refusal we see is the view's, not CSRF's.
    return client.post(url, data={"csrf_token": csrf_token(client, form_page)})


def test_protected_endpoints_send_anonymous_visitors_to_sign_in(app):
    for endpoint, method, url in routes(app):
        if endpoint not in PROTECTED:
            continue
        response = send(app.test_client(), method, url)
        assert response.status_code == 302, (endpoint, method, response.status_code)
        assert response.headers["Location"].startswith("/auth/login"), endpoint


@pytest.mark.parametrize("permission", list(CATALOGUE))
def test_signed_in_user_without_the_permission_gets_403(app, make_user, permission):
    from portal import accounts
    from portal.extensions import db

    with app.app_context():
        accounts.create_role("All but one", [code for code in CATALOGUE if code != permission])
        db.session.commit()
    make_user("lacking@example.com", roles=("All but one",), groups=("Administrators",))
    client = app.test_client()
    assert login(client, "lacking@example.com").status_code == 302
    checked = 0
    for endpoint, method, url in routes(app):
        required = PROTECTED.get(endpoint, SIGNED_IN_ONLY)
        if required != permission and required != (permission,):
            continue
        response = send(client, method, url, form_page="/auth/password")
        assert response.status_code == 403, (endpoint, method, response.status_code)
        checked += 1
    assert checked or permission not in PROTECTED.values()


@pytest.mark.parametrize("permission", list(CATALOGUE))
def test_the_permission_alone_opens_the_pages(app, make_user, permission):
    from portal import accounts
    from portal.extensions import db

    with app.app_context():
        accounts.create_role("Only one", [permission])
        db.session.commit()
    make_user("holder@example.com", roles=("Only one",), groups=("Administrators",))
    client = app.test_client()
    login(client, "holder@example.com")
    for endpoint, method, url in routes(app):
        required = PROTECTED.get(endpoint, "-")
        opened = required in (permission, SIGNED_IN_ONLY) or (
            isinstance(required, tuple) and permission in required
        )
        if method == "GET" and opened:
            response = client.get(url)  # 404 is fine: row 1 may not exist
            assert response.status_code in (200, 404), (endpoint, response.status_code)


def test_key_authenticated_endpoints_refuse_calls_without_a_key(app):
    for endpoint, method, url in routes(app):
        if endpoint in KEY_AUTHENTICATED:
            response = getattr(app.test_client(), method.lower())(url, json={})
            assert response.status_code in (401, 403), (endpoint, response.status_code)
            assert response.is_json, endpoint


def test_personal_token_endpoints_refuse_calls_without_a_token(app, admin_client):
    for endpoint, method, url in routes(app):
        if endpoint in PERSONAL_TOKEN:
            for client in (app.test_client(), admin_client):  # a session is not enough
                response = getattr(client, method.lower())(url, json={})
                assert response.status_code == 401, (endpoint, response.status_code)
                assert response.is_json, endpoint


def test_token_authenticated_endpoints_refuse_calls_without_the_token(app):
    app.config["METRICS_TOKEN"] = "configured-token"
    for endpoint, method, url in routes(app):
        if endpoint in TOKEN_AUTHENTICATED:
            response = getattr(app.test_client(), method.lower())(url)
            assert response.status_code == 401, (endpoint, response.status_code)


def test_the_window_report_needs_one_of_its_two_permissions(app, make_user):
    from portal import accounts
    from portal.extensions import db

    others = [code for code in CATALOGUE if code not in (CLIENT_SETTINGS_MANAGE, AUDIT_VIEW)]
    with app.app_context():
        accounts.create_role("Neither", others)
        db.session.commit()
    make_user("neither@example.com", roles=("Neither",), groups=("Administrators",))
    client = app.test_client()
    login(client, "neither@example.com")
    assert client.get("/settings/maintenance/windows").status_code == 403
    assert client.get("/settings/maintenance/windows?format=csv").status_code == 403
