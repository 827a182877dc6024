"""The ``flask`` commands: accounts, API keys and maintenance from the server shell."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import accounts, clients
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import Role
from tests.admin_helpers import audit_entries
from tests.conftest import PASSWORD, login, make_app
from tests.maintenance_helpers import add_group, state_dict


def run(runner, *args: str):
    return runner.invoke(args=list(args))


def fails(result) -> str:
    """Assert a clean one-line failure and return it."""
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_roles_create_and_existing_name(app, runner):
    result = run(
        runner,
        "roles",
        "create",
        "Auditor",
        "--permission",
        "audit:view",
        "--permission",
        "dashboard:view",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        role = db.session.scalar(sa.select(Role).where(Role.name == "Auditor"))
        assert role.permissions == ["audit:view", "dashboard:view"]
    again = run(runner, "roles", "create", "Auditor")
    assert again.exit_code == 0
    assert "already exists" in again.output
    assert audit_entries(app, "roles")[-1].actor == "cli"


def test_roles_create_unknown_permission(runner):
    assert "Unknown permission: nope" in fails(
        run(runner, "roles", "create", "X", "--permission", "nope")
    )


def test_groups_create_and_existing_name(app, runner):
    assert run(runner, "groups", "create", "Ops").exit_code == 0
    again = run(runner, "groups", "create", "Ops")
    assert again.exit_code == 0 and "already exists" in again.output
    with app.app_context():
        assert accounts.find_groups(["Ops"])


def test_clients_create_prints_a_working_key_once(app, runner):
    result = run(runner, "clients", "create", "Acme")
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert " " not in key
    with app.app_context():
        assert clients.client_for_api_key(key).name == "Acme"
    assert "already exists" in fails(run(runner, "clients", "create", "Acme"))


def test_clients_rotate_key_replaces_the_old_key(app, runner):
    old = run(runner, "clients", "create", "Acme").output.strip().splitlines()[-1]
    result = run(runner, "clients", "rotate-key", "Acme")
    assert result.exit_code == 0, result.output
    new = result.output.strip().splitlines()[-1]
    with app.app_context():
        assert clients.client_for_api_key(old) is None
        assert clients.client_for_api_key(new).name == "Acme"
    assert [e.action for e in audit_entries(app, "clients")][-2:] == ["create", "rotate_key"]
    assert "Unknown client: Nope" in fails(run(runner, "clients", "rotate-key", "Nope"))


def test_users_create_then_sign_in(app, runner):
    run(runner, "groups", "create", "Ops")
    run(runner, "clients", "create", "Acme")
    result = run(
        runner,
        "users",
        "create",
        "New@Example.com",
        "--password",
        PASSWORD,
        "--role",
        "Operator",
        "--role",
        "Viewer",
        "--group",
        "Ops",
        "--client",
        "Acme",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = accounts.find_user("new@example.com")
        assert user.client.name == "Acme"
        assert sorted(r.name for r in user.roles) == ["Operator", "Viewer"]
    assert login(app.test_client(), "new@example.com").status_code == 302


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--role", "Nope", "--group", "Administrators"], "Unknown role: Nope"),
        (["--role", "Viewer", "--group", "Nope"], "Unknown access group: Nope"),
        (
            ["--role", "Viewer", "--group", "Administrators", "--client", "Nope"],
            "Unknown client: Nope",
        ),
        (["--role", "Viewer", "--group", "Administrators", "--password", "short"], "at least 8"),
    ],
)
def test_users_create_bad_input(app, runner, args, expected):
    if "--password" not in args:
        args = ["--password", PASSWORD, *args]
    assert expected in fails(run(runner, "users", "create", "u@example.com", *args))
    with app.app_context():
        assert accounts.find_user("u@example.com") is None


def test_users_create_duplicate_email(runner):
    result = run(
        runner,
        "users",
        "create",
        "admin@example.com",
        "--password",
        PASSWORD,
        "--role",
        "Viewer",
        "--group",
        "Administrators",
    )
    assert "already exists" in fails(result)


def test_users_create_password_against_client_policy(app, runner):
    with app.app_context():
        client = accounts.find_client("Default")
        client.password_regex = r".*\d.*"
        client.password_rule_message = "Passwords need a digit."
        db.session.commit()
    result = run(
        runner,
        "users",
        "create",
        "u@example.com",
        "--password",
        "no-digits-here",
        "--role",
        "Viewer",
        "--group",
        "Administrators",
    )
    assert fails(result) == "Error: Passwords need a digit."


def status(runner) -> dict:
    result = run(runner, "maintenance", "status")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_maintenance_status_is_one_json_object(runner):
    state = status(runner)
    assert state["enabled"] is False
    for key in (
        "restrict_event_processor",
        "message",
        "bypass_roles",
        "bypass_groups",
        "changed_at",
        "changed_by",
    ):
        assert key in state


def test_maintenance_enable_replaces_given_fields_and_keeps_the_rest(app, runner):
    add_group(app, "Ops")
    result = run(
        runner,
        "maintenance",
        "enable",
        "--message",
        "Upgrade\ntonight",
        "--restrict-events",
        "--bypass-role",
        "Operator",
        "--bypass-role",
        "Administrator",
        "--bypass-group",
        "Ops",
    )
    assert result.exit_code == 0, result.output
    state = status(runner)
    assert state["enabled"] and state["restrict_event_processor"]
    assert state["message"] == "Upgrade\ntonight"
    assert state["bypass_roles"] == ["Administrator", "Operator"]
    assert state["bypass_groups"] == ["Ops"]
    assert state["changed_by"] == "cli" and state["changed_at"]

    assert (
        run(
            runner,
            "maintenance",
            "enable",
            "--no-restrict-events",
            "--bypass-group",
            "Administrators",
        ).exit_code
        == 0
    )
    state = status(runner)
    assert state["restrict_event_processor"] is False
    assert state["bypass_groups"] == ["Administrators"]
    assert state["bypass_roles"] == ["Administrator", "Operator"]  # omitted: kept
    assert state["message"] == "Upgrade\ntonight"

    assert run(runner, "maintenance", "disable").exit_code == 0
    state = status(runner)
    assert state["enabled"] is False
    assert state["bypass_roles"] == ["Administrator", "Operator"]
    assert state["message"] == "Upgrade\ntonight"
    entries = audit_entries(app, "maintenance")
    assert [(e.actor, e.action) for e in entries] == [
        ("cli", "enable"),
        ("cli", "update"),
        ("cli", "disable"),
    ]
    assert entries[1].before["bypass_groups"] == ["Ops"]
    assert entries[1].after["bypass_groups"] == ["Administrators"]


@pytest.mark.parametrize(
    ("option", "expected"),
    [("--bypass-role", "Unknown role: Nope"), ("--bypass-group", "Unknown access group: Nope")],
)
def test_maintenance_enable_unknown_names(app, runner, option, expected):
    assert expected in fails(run(runner, "maintenance", "enable", option, "Nope"))
    assert state_dict(app)["enabled"] is False
    assert audit_entries(app, "maintenance") == []


def test_maintenance_disable_is_the_emergency_exit(app, runner, client):
    # Nobody holds Viewer + Administrators: every web admin is locked out.
    result = run(
        runner,
        "maintenance",
        "enable",
        "--bypass-role",
        "Viewer",
        "--bypass-group",
        "Administrators",
    )
    assert result.exit_code == 0
    assert login(client).status_code == 200  # refused
    assert run(runner, "maintenance", "disable").exit_code == 0
    assert login(client).status_code == 302
    assert audit_entries(app, "maintenance")[-1].after["enabled"] is False


def test_maintenance_disable_when_already_off(runner):
    result = run(runner, "maintenance", "disable")
    assert result.exit_code == 0
    assert "already off" in result.output


@pytest.fixture()
def unavailable_runner(db_path, tmp_path):
    app = make_app(db_path, tmp_path / "instance", MAINTENANCE_MODE_AVAILABLE=False)
    yield app, app.test_cli_runner()
    with app.app_context():
        db.engine.dispose()


def test_unavailable_refuses_enable_but_disable_works(app, unavailable_runner):
    run(
        app.test_cli_runner(),
        "maintenance",
        "enable",
        "--bypass-role",
        "Administrator",
        "--bypass-group",
        "Administrators",
    )
    other, runner = unavailable_runner
    assert "not available on this instance" in fails(run(runner, "maintenance", "enable"))
    assert run(runner, "maintenance", "disable").exit_code == 0
    assert state_dict(other)["enabled"] is False


def test_users_set_password_unlocks_the_account(app, runner):
    with app.app_context():
        admin = accounts.find_user("admin@example.com")
        admin.failed_logins, admin.locked_until = 2, utc_now() + timedelta(minutes=10)
        db.session.commit()
    result = run(
        runner, "users", "set-password", "Admin@Example.com", "--password", "new-password-1"
    )
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), password="new-password-1").status_code == 302
    assert "at least 8" in fails(
        run(runner, "users", "set-password", "admin@example.com", "--password", "short")
    )
    assert "Unknown user" in fails(
        run(runner, "users", "set-password", "no@example.com", "--password", "new-password-1")
    )
