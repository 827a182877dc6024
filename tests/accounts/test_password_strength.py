"""Guessable passwords are refused wherever a password is set: the one check in
portal.accounts.passwords, the forms and the CLI (``flask users create``,
``flask users set-password``, ``flask setup``)."""

import pytest

from portal import accounts
from portal.accounts import passwords
from portal.security.config import ConfigError
from tests.admin_helpers import user_id
from tests.cli.test_cli import fails, run
from tests.conftest import ADMIN_EMAIL, PASSWORD, login, make_app, post_form
from tests.web.test_users_page import user_data

WEAK = ["password", "12345678", "aaaaaaaa"]
USED_BY_THE_TESTS = [
    PASSWORD,
    "night-shift-password",
    "another-long-password",
    "a-brand-new-password",
    "taken-over-password",
    "matrix-password",
    "property-password",
    "a-long-password",
    "new-password-1",
    "benchmark-password",
    "acme-password-1",
    "digits-0123456",
    "no-digits-here",
    "accounts-temporary-lilac-41",
    "accounts-harbour-kestrel-58",
]


def problem(app, password: str, email: str = "someone@example.com") -> str | None:
    with app.app_context():
        client = accounts.default_client()
        return passwords.password_problem(client, password, "en", passwords.account_words(email))


@pytest.mark.parametrize("password", WEAK)
def test_common_and_repetitive_passwords_are_refused_with_advice(app, password):
    message = problem(app, password)
    assert message.startswith("This password is too easy to guess: ")
    assert "Add another word or two" in message


@pytest.mark.parametrize("password", USED_BY_THE_TESTS)
def test_the_passwords_the_tests_use_pass(app, password):
    assert problem(app, password, "new@example.com") is None


def test_a_password_built_from_the_email_address_is_refused(app):
    assert problem(app, "admin@example.com", ADMIN_EMAIL)
    assert problem(app, "Admin@Example.com", ADMIN_EMAIL)
    assert problem(app, "kestrel.admin", "kestrel.admin@example.com")


def test_the_client_rule_comes_first(app):
    assert problem(app, "short") == passwords.DEFAULT_RULE_MESSAGE


def test_operators_can_raise_the_minimum_score(app):
    assert problem(app, "matrix-password") is None  # score 3
    app.config["PASSWORD_MIN_SCORE"] = 4
    assert "too easy to guess" in problem(app, "matrix-password")
    app.config["PASSWORD_MIN_SCORE"] = 0
    assert problem(app, "aaaaaaaa") is None


@pytest.mark.parametrize("value", [5, -1, "high", True])
def test_a_bad_minimum_score_stops_the_app(tmp_path, value):
    with pytest.raises(ConfigError, match="PASSWORD_MIN_SCORE"):
        make_app(tmp_path / "x.db", tmp_path / "instance", PASSWORD_MIN_SCORE=value)


def test_the_minimum_score_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_PASSWORD_MIN_SCORE", "3")
    app = make_app(tmp_path / "x.db", tmp_path / "instance")
    assert app.config["PASSWORD_MIN_SCORE"] == 3


def test_a_very_long_password_is_estimated_quickly_and_accepted(app):
    assert problem(app, "kestrel-harbour-lilac-" * 40) is None


@pytest.mark.parametrize("password", WEAK)
def test_the_new_user_form_refuses_and_keeps_the_other_values(app, admin_client, password):
    data = user_data(app, email="weak@example.com", password=password, confirm=password)
    response = post_form(admin_client, "/settings/users/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "too easy to guess" in page and 'value="weak@example.com"' in page
    assert user_id(app, "weak@example.com") is None


def test_the_reset_form_refuses(app, admin_client, make_user):
    target = make_user("target@example.com")
    url = f"/settings/users/{target}/password"
    data = {"password": "12345678", "confirm": "12345678"}
    response = post_form(admin_client, url, data, token_from=f"/settings/users/{target}")
    assert response.status_code == 200
    assert "too easy to guess" in response.get_data(as_text=True)
    assert login(app.test_client(), "target@example.com", PASSWORD).status_code == 302


def test_the_own_password_page_refuses(app, admin_client):
    data = {"current_password": PASSWORD, "new_password": "password", "confirm": "password"}
    response = post_form(admin_client, "/auth/password", data)
    assert response.status_code == 200
    assert "too easy to guess" in response.get_data(as_text=True)
    assert login(app.test_client(), ADMIN_EMAIL, PASSWORD).status_code == 302


@pytest.mark.parametrize("password", WEAK)
def test_users_create_refuses_in_one_line(app, runner, password):
    args = ["--password", password, "--role", "Viewer", "--group", "Administrators"]
    line = fails(run(runner, "users", "create", "weak@example.com", *args))
    assert "too easy to guess" in line
    assert user_id(app, "weak@example.com") is None


def test_users_set_password_refuses_in_one_line(app, runner):
    line = fails(run(runner, "users", "set-password", ADMIN_EMAIL, "--password", "aaaaaaaa"))
    assert "too easy to guess" in line and "Repeats" in line
    assert login(app.test_client(), ADMIN_EMAIL, PASSWORD).status_code == 302


def test_setup_refuses_a_guessable_admin_password(tmp_path):
    app = make_app(tmp_path / "fresh.db", tmp_path / "instance")
    result = app.test_cli_runner().invoke(args=["setup", "--admin-password", "12345678"])
    assert result.exit_code != 0
    last = result.output.strip().splitlines()[-1]  # after the migrations' log lines
    assert last.startswith("Error: This password is too easy to guess: "), result.output
    with app.app_context():
        assert accounts.find_user(ADMIN_EMAIL) is None


def test_setup_generates_a_strong_admin_password(tmp_path):
    app = make_app(tmp_path / "fresh.db", tmp_path / "instance")
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    generated = result.output.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert problem(app, generated, ADMIN_EMAIL) is None
    assert login(app.test_client(), ADMIN_EMAIL, generated).status_code == 302
