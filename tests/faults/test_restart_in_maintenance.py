"""Kill the server during maintenance and start it again: the state, the message and the bypass
rule survive (SPEC §3.9: no automatic timeout, the state survives restarts)."""

from pathlib import Path

import pytest
import requests

from portal import accounts, clients
from portal.extensions import db
from tests.conftest import make_app
from tests.live import (
    ADMIN_PASSWORD,
    LiveServer,
    flask,
    maintenance_status,
    prepare_db,
    running,
    sign_in,
)

pytestmark = pytest.mark.slow

MESSAGE = "Database migration until 05:00 UTC."
BYPASS, BLOCKED = "oncall@example.com", "viewer@example.com"


def dashboard_text(session: requests.Session, url: str) -> tuple[int, str, str]:
    response = session.get(url + "/", timeout=10)
    return response.status_code, response.url, response.text


def assert_blocked(url: str) -> None:
    session = sign_in(url, BLOCKED)
    status, final_url, page = dashboard_text(session, url)
    assert "/auth/login" in final_url, "the blocked user reached the dashboard"
    assert MESSAGE in page


def assert_bypass_works(session: requests.Session, url: str) -> None:
    status, final_url, page = dashboard_text(session, url)
    assert status == 200
    assert "/auth/login" not in final_url
    assert BYPASS in page
    assert MESSAGE in page  # the header banner


def test_state_survives_a_server_kill_and_restart(tmp_path: Path):
    env = prepare_db(tmp_path / "portal.db")
    app = make_app(tmp_path / "portal.db", tmp_path / "instance")
    with app.app_context():  # the team, made with the domain functions the CLI uses
        client = accounts.find_client(accounts.DEFAULT_CLIENT)
        key = clients.rotate_api_key(client)
        on_call = accounts.create_role("On call", ["dashboard:view"])
        night = accounts.create_group("Night shift")
        viewer = accounts.find_roles(["Viewer"])
        accounts.create_user(BYPASS, ADMIN_PASSWORD, client, [on_call], [night])
        accounts.create_user(BLOCKED, ADMIN_PASSWORD, client, viewer, [night])
        db.session.commit()
        db.engine.dispose()
    flask(
        env, "maintenance", "enable", "--message", MESSAGE, "--bypass-role", "On call",
        "--bypass-group", "Night shift",
    )  # fmt: skip
    before = maintenance_status(env)

    first = LiveServer(env, tmp_path / "first.log")
    with running(first):
        bypass_session = sign_in(first.url, BYPASS)
        assert_bypass_works(bypass_session, first.url)
        assert_blocked(first.url)
        first.kill()  # no clean shutdown

    second = LiveServer(env, tmp_path / "second.log")
    with running(second):
        health = requests.get(second.url + "/healthz", timeout=10).json()
        assert health["maintenance"] is True
        state = requests.get(
            second.url + "/api/v1/maintenance", headers={"X-API-Key": key}, timeout=10
        ).json()
        assert state["enabled"] is True
        assert state["message"] == MESSAGE
        assert "bypass_roles" not in state  # who may sign in is for instance admins only
        assert before["bypass_roles"] == ["On call"]
        assert before["bypass_groups"] == ["Night shift"]
        # the session opened before the restart still works, and a fresh sign-in too
        assert_bypass_works(bypass_session, second.url)
        assert_bypass_works(sign_in(second.url, BYPASS), second.url)
        assert_blocked(second.url)

    assert maintenance_status(env) == before
