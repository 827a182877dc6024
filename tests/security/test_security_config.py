"""The security settings: defaults, formats, and a malformed value stops the app in one line."""

import subprocess
import sys

import pytest

from portal import create_app
from portal.security.config import Throttle
from tests.live import ROOT, portal_env


def build(tmp_path, **config):
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}", **config}
    return create_app(settings, instance_path=str(tmp_path / "instance"))


def test_defaults(tmp_path, monkeypatch):
    for name in ("PORTAL_LOGIN_THROTTLE", "PORTAL_WEBHOOK_ALLOWED_NETWORKS"):
        monkeypatch.delenv(name, raising=False)
    config = build(tmp_path).config
    assert config["LOGIN_THROTTLE_PARSED"] == Throttle(30, 300)
    assert config["WEBHOOK_ALLOWED_NETWORKS_PARSED"] == ()
    assert config["TRUSTED_PROXIES"] == 0 and config["HTTPS"] is False


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LOGIN_THROTTLE", "lots"),
        ("LOGIN_THROTTLE", "0 per 5 minutes"),
        ("LOGIN_THROTTLE", 30),
        ("WEBHOOK_ALLOWED_NETWORKS", ["10.0.0.0/8", "not-a-network"]),
        ("WEBHOOK_ALLOWED_NETWORKS", 12),
        ("TRUSTED_PROXIES", "two"),
        ("TRUSTED_PROXIES", -1),
    ],
)
def test_malformed_value_stops_the_app_naming_the_key(tmp_path, key, value):
    with pytest.raises(SystemExit) as stopped:
        build(tmp_path, **{key: value})
    message = str(stopped.value.code)
    assert key in message and "\n" not in message


@pytest.mark.slow  # starts a subprocess
@pytest.mark.parametrize(
    ("key", "value"),
    [("LOGIN_THROTTLE", "30 per fortnight"), ("WEBHOOK_ALLOWED_NETWORKS", '["300.0.0.0/8"]')],
)
def test_cli_exits_non_zero_with_one_line(tmp_path, key, value):
    env = portal_env(tmp_path / "portal.db", **{key: value})
    result = subprocess.run(
        [sys.executable, "-m", "flask", "maintenance", "status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], result.stderr


def test_environment_values(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_LOGIN_THROTTLE", "10/1m")
    monkeypatch.setenv("PORTAL_WEBHOOK_ALLOWED_NETWORKS", '["127.0.0.0/8", "::1/128"]')
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("PORTAL_HTTPS", "true")
    config = build(tmp_path).config
    assert config["LOGIN_THROTTLE_PARSED"] == Throttle(10, 60)
    assert [str(n) for n in config["WEBHOOK_ALLOWED_NETWORKS_PARSED"]] == ["127.0.0.0/8", "::1/128"]
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
