"""Configuration: defaults, instance/config.py, PORTAL_* variables; the secret key file."""

import os
import shutil
import stat

import pytest

from portal import create_app
from tests.conftest import login


@pytest.fixture()
def instance(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PORTAL_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "instance"
    folder.mkdir()
    return folder


def build(instance, **overrides):
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'portal.db'}", **overrides}
    return create_app(config, instance_path=str(instance))


def test_defaults(instance):
    app = build(instance)
    assert app.config["MAINTENANCE_MODE_AVAILABLE"] is True
    assert app.config["PROCESSOR_ENABLED"] is True
    assert app.config["PROCESSOR_INTERVAL_SECONDS"] == 1.0


def test_default_database_is_in_the_instance_folder(instance):
    app = create_app(instance_path=str(instance))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'portal.db'}"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PROCESSOR_INTERVAL_SECONDS", "0.5", 0.5),
        ("PROCESSOR_INTERVAL_SECONDS", "2", 2.0),
        ("MAINTENANCE_MODE_AVAILABLE", "false", False),
        ("MAINTENANCE_MODE_AVAILABLE", "False", False),
        ("MAINTENANCE_MODE_AVAILABLE", "0", False),
        ("MAINTENANCE_MODE_AVAILABLE", "true", True),
        ("PROCESSOR_ENABLED", "false", False),
        ("PROCESSOR_ENABLED", "no", False),
    ],
)
def test_portal_environment_variables(instance, monkeypatch, name, value, expected):
    monkeypatch.setenv(f"PORTAL_{name}", value)
    value = build(instance).config[name]
    assert value == expected and type(value) is type(expected)


def test_instance_config_file_then_environment(instance, monkeypatch):
    (instance / "config.py").write_text(
        "MAINTENANCE_MODE_AVAILABLE = False\n"
        "PROCESSOR_INTERVAL_SECONDS = 3\n"
        "WEBHOOK_MAX_ATTEMPTS = 9\n"
    )
    monkeypatch.setenv("PORTAL_PROCESSOR_INTERVAL_SECONDS", "0.25")
    app = build(instance)
    assert app.config["MAINTENANCE_MODE_AVAILABLE"] is False
    assert app.config["WEBHOOK_MAX_ATTEMPTS"] == 9
    assert app.config["PROCESSOR_INTERVAL_SECONDS"] == 0.25  # the environment wins


def test_unavailable_flag_reaches_the_maintenance_page(instance, monkeypatch, template_db):
    shutil.copy(template_db, instance / "portal.db")
    monkeypatch.setenv("PORTAL_MAINTENANCE_MODE_AVAILABLE", "false")
    app = build(instance, SECRET_KEY="x")
    client = app.test_client()
    assert login(client).status_code == 302
    page = client.get("/settings/maintenance").get_data(as_text=True)
    assert "Maintenance mode is not available on this instance" in page


def test_secret_key_is_generated_once_with_mode_0600(instance):
    first = build(instance).config["SECRET_KEY"]
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first
    assert len(first) >= 32
    assert build(instance).config["SECRET_KEY"] == first  # reused on the next start


def test_configured_secret_key_wins_and_writes_no_file(instance, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_KEY", "from-the-environment")
    assert build(instance).config["SECRET_KEY"] == "from-the-environment"
    assert not (instance / "secret_key").exists()
