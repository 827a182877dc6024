"""Personal access tokens: the page, the CLI, the refusals, and scopes that follow permissions."""

from datetime import timedelta

import sqlalchemy as sa

from portal import accounts
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.maintenance.changes import update_state
from portal.models import AuditEntry, PersonalAccessToken, Role
from tests.conftest import ADMIN_EMAIL, csrf_token, login, post_form
from tests.live import last_line
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)
from tests.token_helpers import add_user, any_app, bearer, make_token  # noqa: F401

READ, WRITE = "maintenance:read", "maintenance:write"


def _token_row(app, name="deploy") -> PersonalAccessToken:
    with app.app_context():
        query = sa.select(PersonalAccessToken).where(PersonalAccessToken.name == name)
        row = db.session.scalar(query)
        db.session.expunge(row)
        return row


def test_the_page_creates_shows_once_lists_and_revokes(app, admin_client):
    response = post_form(
        admin_client,
        "/account/tokens",
        {"name": "deploy", "expires_days": "7", "scopes": [READ, WRITE]},
    )
    assert response.status_code == 302
    reveal = admin_client.get(response.headers["Location"])
    page = reveal.get_data(as_text=True)
    assert reveal.headers["Cache-Control"] == "no-store"
    secret = page.split('id="token-value" readonly value="')[1].split('"')[0]
    assert secret.startswith("gpat_")
    with app.app_context():
        row = db.session.scalar(sa.select(PersonalAccessToken))
        assert secret not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
        assert row.scopes == [READ, WRITE]
        assert (row.expires_at - row.created_at).days == 7

    api = app.test_client()
    used = api.get(
        "/api/v1/maintenance", headers=bearer(secret), environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert used.status_code == 200

    listing = admin_client.get("/account/tokens").get_data(as_text=True)
    assert "deploy" in listing and "maintenance:write" in listing and "from 10.1.2.3" in listing
    assert secret not in listing  # shown once, on the reveal page only
    row = _token_row(app)
    post_form(admin_client, f"/account/tokens/{row.id}/revoke", {}, token_from="/account/tokens")
    assert api.get("/api/v1/maintenance", headers=bearer(secret)).status_code == 401
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.module == "tokens")
        ).all()
        assert actions == ["create", "revoke"]


def test_the_page_refuses_bad_input_and_needs_its_csrf_token(app, client, make_user):
    make_user("viewer@example.com", roles=("Viewer",))
    login(client, "viewer@example.com")
    page = client.get("/account/tokens").get_data(as_text=True)
    assert 'value="events:read"' in page and 'value="maintenance:write"' not in page
    for data, message in [
        ({"name": "x", "expires_days": "0", "scopes": [READ]}, "From 1 to 365 days."),
        ({"name": "x", "expires_days": "366", "scopes": [READ]}, "From 1 to 365 days."),
        ({"name": "", "expires_days": "30", "scopes": [READ]}, "This field is required"),
        ({"name": "x", "expires_days": "30"}, "Choose at least one scope."),
        ({"name": "x", "expires_days": "30", "scopes": [WRITE]}, "not a valid choice"),
    ]:
        response = post_form(client, "/account/tokens", data)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True), data
    no_csrf = client.post("/account/tokens", data={"name": "x", "scopes": [READ]})
    assert no_csrf.status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PersonalAccessToken.id))) == 0


def test_the_refusals_401_403_503(any_app):  # noqa: F811
    app = any_app
    add_user(app, "ops@example.com", roles=("Administrator",), groups=("Administrators",))
    secret = make_token(app, "ops@example.com", READ)
    client = app.test_client()
    url = "/api/v1/maintenance"
    assert client.get(url, headers=bearer(secret)).status_code == 200
    for headers in ({}, bearer("gpat_unknown"), bearer(""), {"Authorization": "Basic abc"}):
        response = client.patch(url, json={"message": "x"}, headers=headers)
        assert response.status_code == 401 and response.is_json
        assert response.get_json()["error"]
    refused = client.patch(url, json={"message": "x"}, headers=bearer(secret))
    assert refused.status_code == 403
    assert refused.get_json()["scope"] == WRITE and WRITE in refused.get_json()["error"]

    expired = make_token(app, "ops@example.com", READ, name="old")
    with app.app_context():
        row = db.session.scalar(sa.select(PersonalAccessToken).filter_by(name="old"))
        row.expires_at = utc_now() - timedelta(seconds=1)
        db.session.commit()
    response = client.get(url, headers=bearer(expired))
    assert response.status_code == 401 and "expired" in response.get_json()["error"]

    # maintenance blocks the token's user (an Operator only): 503 with the message
    add_user(app, "operator@example.com", roles=("Operator",), groups=("Administrators",))
    blocked = make_token(app, "operator@example.com", READ, "events:read")
    with app.app_context():
        state = get_or_create_state()
        update_state(
            state,
            None,
            enabled=True,
            message="Upgrading.",
            bypass_roles=accounts.find_roles(["Administrator"]),
            bypass_groups=accounts.find_groups(["Administrators"]),
        )
        db.session.commit()
    response = client.get(url, headers=bearer(blocked))
    assert response.status_code == 503
    assert response.get_json()["message"] == "Upgrading."
    assert client.get(url, headers=bearer(secret)).status_code == 200  # a bypass user's token


def test_a_scope_stops_working_once_its_user_loses_the_permission(any_app):  # noqa: F811
    app = any_app
    with app.app_context():
        accounts.create_role("Maintainer", ["client_settings:manage", "users:manage"])
        db.session.commit()
    add_user(app, "m@example.com", roles=("Maintainer",), groups=("Administrators",))
    secret = make_token(app, "m@example.com", READ, WRITE)
    client = app.test_client()
    ok = client.patch("/api/v1/maintenance", json={"message": "one"}, headers=bearer(secret))
    assert ok.status_code == 200, ok.get_json()
    with app.app_context():
        role = db.session.scalar(sa.select(Role).filter_by(name="Maintainer"))
        role.permissions = ["users:manage"]
        db.session.commit()
        user = accounts.find_user("m@example.com")
        # ... and no new token may carry it
        from portal.accounts import tokens

        try:
            tokens.create(user, "again", [WRITE], 30, None)
        except tokens.TokenError as exc:
            assert "client_settings:manage" in str(exc) and exc.field == "scopes"
        else:
            raise AssertionError("a token with a scope its user lacks was made")
    refused = client.patch("/api/v1/maintenance", json={"message": "two"}, headers=bearer(secret))
    assert refused.status_code == 403
    assert "client_settings:manage" in refused.get_json()["error"]
    assert client.get("/api/v1/maintenance", headers=bearer(secret)).status_code == 200


def test_tokens_die_with_their_user(any_app):  # noqa: F811
    app = any_app
    add_user(app, "gone@example.com")
    add_user(app, "off@example.com")
    gone = make_token(app, "gone@example.com", READ)
    off = make_token(app, "off@example.com", READ)
    client = app.test_client()
    with app.app_context():
        user = accounts.find_user("off@example.com")
        accounts.update_user(user, user.email, user.client, user.roles, user.groups, active=False)
        db.session.delete(accounts.find_user("gone@example.com"))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count(PersonalAccessToken.id))) == 1
        user = accounts.find_user("off@example.com")
        accounts.update_user(user, user.email, user.client, user.roles, user.groups, active=True)
        db.session.commit()
    assert client.get("/api/v1/maintenance", headers=bearer(gone)).status_code == 401
    # reactivating the user does not bring a killed token back
    assert client.get("/api/v1/maintenance", headers=bearer(off)).status_code == 401


def test_admins_see_and_revoke_the_tokens_of_users_they_administer(app, admin_client, make_user):
    user_id = make_user("dev@example.com", roles=("Operator",))
    secret = make_token(app, "dev@example.com", "events:read", name="recovery")
    page = admin_client.get(f"/settings/users/{user_id}").get_data(as_text=True)
    assert "recovery" in page and "events:read" in page
    row = _token_row(app, "recovery")
    url = f"/settings/users/{user_id}/tokens/{row.id}/revoke"
    assert admin_client.post(url).status_code == 400  # CSRF
    post_form(admin_client, url, {}, token_from=f"/settings/users/{user_id}")
    assert app.test_client().get("/api/v1/maintenance", headers=bearer(secret)).status_code == 401

    # a client-scoped admin (users:manage only) of another client gets 404
    with app.app_context():
        from portal import clients

        other, _key = clients.create_client("Other")
        accounts.create_role("Local admin", ["users:manage"])
        db.session.commit()
    make_user("local@example.com", roles=("Local admin",), client="Other")
    local = app.test_client()
    login(local, "local@example.com")
    assert local.get(f"/settings/users/{user_id}").status_code == 404
    token = csrf_token(local, "/auth/password")
    assert local.post(url, data={"csrf_token": token}).status_code == 404


def test_the_cli_creates_and_revokes(app, runner):
    result = runner.invoke(
        args=["tokens", "create", ADMIN_EMAIL, "--name", "ci", "--scope", READ, "--scope", WRITE]
    )
    assert result.exit_code == 0, result.output
    secret = last_line(result.output)
    assert secret.startswith("gpat_")
    client = app.test_client()
    assert client.get("/api/v1/maintenance", headers=bearer(secret)).status_code == 200
    again = runner.invoke(args=["tokens", "create", ADMIN_EMAIL, "--name", "ci", "--scope", READ])
    assert again.exit_code != 0 and "already has a token named ci" in again.output
    for args in (
        ["tokens", "create", "nobody@example.com", "--name", "x", "--scope", READ],
        ["tokens", "create", ADMIN_EMAIL, "--name", "x", "--scope", "bogus"],
        ["tokens", "create", ADMIN_EMAIL, "--name", "x", "--scope", READ, "--expires-days", "0"],
        ["tokens", "revoke", ADMIN_EMAIL, "nope"],
    ):
        assert runner.invoke(args=args).exit_code != 0, args
    result = runner.invoke(args=["tokens", "revoke", ADMIN_EMAIL, "ci"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/maintenance", headers=bearer(secret)).status_code == 401


def test_api_key_ingestion_is_unchanged(app, client):
    from portal import clients

    with app.app_context():
        _client, key = clients.create_client("Devices")
        db.session.commit()
    response = client.post("/api/v1/events", json={"type": "t"}, headers={"X-API-Key": key})
    assert response.status_code == 202
    assert client.get("/api/v1/maintenance", headers={"X-API-Key": key}).status_code == 200


def test_a_token_check_costs_no_more_queries_than_an_api_key(app):
    """One query reads the token, its user and their roles' permissions (maintenance off): a
    token call runs no more SQL statements than the same call with an API key."""
    from tests.events_support import api_key

    secret = make_token(app, ADMIN_EMAIL, READ)
    key = api_key(app)
    http = app.test_client()
    counts = {}
    with app.app_context():
        engine = db.engine
    for name, headers in (("token", bearer(secret)), ("key", {"X-API-Key": key})):
        assert http.get("/api/v1/maintenance", headers=headers).status_code == 200  # warm
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args, seen=statements) -> None:
            seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            assert http.get("/api/v1/maintenance", headers=headers).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counts[name] = statements
    assert len(counts["token"]) <= len(counts["key"]), counts
