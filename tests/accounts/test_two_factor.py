"""Two-factor sign-in: enrolment, the second step, its refusals, the gate and the admin's reset."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import sqlalchemy as sa

from portal import accounts
from portal.accounts import twofactor
from portal.extensions import db
from portal.models import Client, TwoFactor, UserSession
from portal.web.auth import signin
from portal.web.auth.routes import MAINTENANCE_REFUSAL
from tests.admin_helpers import last_audit, text, user_id
from tests.conftest import ADMIN_EMAIL, PASSWORD, login, make_app, post_form
from tests.maintenance_helpers import login_refusal, set_maintenance
from tests.security_helpers import failures
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)

USER = "ops@example.com"
SECRET_RE = re.compile(r'id="two-factor-secret" readonly value="([A-Z2-7]+)"')
CODES_RE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def enrol(app, email: str) -> tuple[str, list[str]]:
    """Enrol ``email`` with a code of the previous time step (so the current code is unused)."""
    with app.app_context():
        user = accounts.find_user(email)
        secret = twofactor.pending_secret(user)
        codes = twofactor.confirm(user, pyotp.TOTP(secret).at(time.time() - 30))
        db.session.commit()
    assert codes is not None
    return secret, codes


def second_step(client, code: str):
    return post_form(client, "/auth/two-factor", {"code": code})


def sessions_of(app, email: str) -> int:
    with app.app_context():
        query = sa.select(sa.func.count()).where(UserSession.user_id == user_id(app, email))
        return db.session.scalar(query)


@pytest.fixture()
def ops(make_user):
    make_user(USER, roles=("Operator",), groups=())
    return USER


def test_sign_in_asks_for_a_code_and_a_code_is_usable_once(app, client, ops):
    secret, _ = enrol(app, ops)
    response = login(client, ops)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/two-factor")
    assert client.get("/").status_code == 302  # not signed in yet
    code = pyotp.TOTP(secret).now()
    response = second_step(client, code)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert "Signed in with a second factor" in last_audit(app, "auth").description
    post_form(client, "/auth/logout", {}, token_from="/")
    login(client, ops)
    page = second_step(client, code).get_data(as_text=True)
    assert "That code is not right, or it was used already." in page
    assert client.get("/").status_code == 302


def test_a_recovery_code_signs_in_once(app, client, ops):
    _, codes = enrol(app, ops)
    login(client, ops)
    assert second_step(client, codes[3].upper().replace("-", " ")).status_code == 302
    post_form(client, "/auth/logout", {}, token_from="/")
    login(client, ops)
    assert second_step(client, codes[3]).status_code == 200  # used
    with app.app_context():
        assert twofactor.recovery_codes_left(accounts.find_user(ops)) == 9


def test_wrong_codes_count_toward_the_lockout_of_the_password(app, client, ops):
    secret, _ = enrol(app, ops)
    login(client, ops)
    for _ in range(5):  # the client's retry limit
        page = second_step(client, "000000").get_data(as_text=True)
        assert "That code is not right" in page
    assert failures(app) == 5
    page = second_step(client, pyotp.TOTP(secret).now()).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]
    page = login(client, ops).get_data(as_text=True)  # the password step is locked too
    assert "temporarily locked" in login_refusal(page)[0]


def test_the_right_password_does_not_clear_the_failures_of_codes(app, client, ops):
    secret, _ = enrol(app, ops)
    for _ in range(5):
        assert login(client, ops).status_code == 302  # a fresh second step each time
        second_step(client, "123456" if pyotp.TOTP(secret).now() != "123456" else "654321")
    login(client, ops)
    page = second_step(client, pyotp.TOTP(secret).now()).get_data(as_text=True)
    assert "temporarily locked" in login_refusal(page)[0]


def test_the_second_step_counts_toward_the_address_throttle(db_path, tmp_path, make_user):
    app = make_app(db_path, tmp_path / "throttled", LOGIN_THROTTLE="3 per 5 minutes")
    enrol(app, ADMIN_EMAIL)
    client = app.test_client()
    login(client)
    for _ in range(3):
        second_step(client, "000000")
    response = second_step(client, "000000")
    assert response.status_code == 429 and response.headers["Retry-After"]


def test_the_second_step_needs_the_password_step(client):
    response = client.get("/auth/two-factor")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_maintenance_no_oracle_at_the_second_step(app, client, ops):
    secret, _ = enrol(app, ops)
    set_maintenance(app, roles=("Administrator",), groups=("Administrators",))
    wrong_password = login_refusal(login(client, ops, "nope").get_data(as_text=True))[0]
    assert wrong_password == MAINTENANCE_REFUSAL
    # A blocked user's right password gives the same page: no second step to tell it by.
    response = login(client, ops)
    assert response.status_code == 200
    assert login_refusal(response.get_data(as_text=True))[0] == MAINTENANCE_REFUSAL
    # Maintenance starting between the two steps: right and wrong codes read the same.
    set_maintenance(app, enabled=False)
    assert login(client, ops).status_code == 302
    set_maintenance(app, roles=("Administrator",), groups=("Administrators",))
    right = second_step(client, pyotp.TOTP(secret).now()).get_data(as_text=True)
    wrong = second_step(client, "000000").get_data(as_text=True)
    assert login_refusal(right)[0] == login_refusal(wrong)[0] == MAINTENANCE_REFUSAL
    assert client.get("/").status_code == 302


def test_a_bypass_user_signs_in_with_a_code_during_maintenance(app, client):
    secret, _ = enrol(app, ADMIN_EMAIL)
    set_maintenance(app, roles=("Administrator",), groups=("Administrators",))
    assert login(client).status_code == 302
    assert second_step(client, pyotp.TOTP(secret).now()).status_code == 302
    assert client.get("/settings/maintenance").status_code == 200


def test_a_user_who_must_enrol_can_do_nothing_else(app, client, ops):
    with app.app_context():
        accounts.find_user(ops).client.require_two_factor = True
        db.session.commit()
    response = login(client, ops)
    assert response.status_code == 302
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/two-factor")
    response = client.get("/account/sessions")
    assert response.headers["Location"].startswith("/account/two-factor")
    api = client.get("/api/v1/maintenance", headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.get_json()["error"] == "two-factor enrolment required"
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert 'id="two-factor-required"' in page and "<svg" in page
    secret = SECRET_RE.search(page).group(1)
    wrong = post_form(client, "/account/two-factor", {"code": "000000"})
    assert "That code is not right" in wrong.get_data(as_text=True)
    response = post_form(client, "/account/two-factor", {"code": pyotp.TOTP(secret).now()})
    assert response.headers["Location"] == "/account/two-factor/recovery-codes"
    codes = CODES_RE.findall(client.get("/account/two-factor/recovery-codes").get_data(True))
    assert len(set(codes)) == 10
    assert client.get("/").status_code == 200  # the gate opens
    post_form(client, "/account/two-factor/recovery-codes/dismiss", {}, token_from="/")
    page = client.get("/account/two-factor/recovery-codes").get_data(as_text=True)
    assert not CODES_RE.search(page)  # shown once
    assert last_audit(app, "users").action == "two_factor"


def test_instance_setting_requires_it_of_every_instance_admin(db_path, tmp_path, make_user):
    app = make_app(db_path, tmp_path / "strict", REQUIRE_2FA_FOR_MANAGERS=True)
    make_user(USER, roles=("Operator",))
    admin = app.test_client()
    login(admin)
    assert admin.get("/").headers["Location"].startswith("/account/two-factor")
    operator = app.test_client()
    login(operator, USER)
    assert operator.get("/").status_code == 200  # no client_settings:manage: not required


def test_client_policy_option_is_saved_from_the_clients_page(app, admin_client):
    with app.app_context():
        client_id = accounts.default_client().id
    url = f"/settings/clients/{client_id}"
    form = {
        "name": "Default",
        "contact_email": "",
        "password_retry_limit": "5",
        "lockout_minutes": "15",
        "require_two_factor": "y",
        "password_regex": "",
        "password_rule_message": "",
        "password_rule_message_de": "",
        "retention_days": "30",
    }
    assert post_form(admin_client, url, form).status_code == 302
    with app.app_context():
        assert db.session.get(Client, client_id).require_two_factor is True
    assert last_audit(app, "clients").after["require_two_factor"] is True


def test_enrolling_ends_the_other_sessions(app, ops):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, ops)
    login(phone, ops)
    page = laptop.get("/account/two-factor").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    post_form(laptop, "/account/two-factor", {"code": pyotp.TOTP(secret).now()})
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302
    assert sessions_of(app, ops) == 1


def test_admin_resets_a_second_factor_audited_and_the_sessions_end(app, admin_client, ops):
    enrol(app, ops)
    user = app.test_client()
    with app.app_context():
        db.session.execute(sa.update(TwoFactor).values(last_step=0))  # any current code works
        db.session.commit()
        secret = db.session.get(TwoFactor, user_id(app, ops)).secret
    login(user, ops)
    second_step(user, pyotp.TOTP(secret).now())
    assert user.get("/").status_code == 200
    edit = f"/settings/users/{user_id(app, ops)}"
    assert "Reset second factor" in text(admin_client.get(edit))
    response = post_form(admin_client, edit + "/two-factor/reset", {}, token_from=edit)
    assert response.status_code == 302
    entry = last_audit(app, "users")
    assert (entry.action, entry.before, entry.after) == (
        "two_factor_reset",
        {"two_factor": True},
        {"two_factor": False},
    )
    assert entry.actor == ADMIN_EMAIL
    assert user.get("/").status_code == 302  # signed out
    assert login(user, ops).headers["Location"] == "/"  # the password alone again
    with app.app_context():
        assert not twofactor.enrolled(accounts.find_user(ops))


def test_reset_refused_for_a_user_who_holds_more(app, client, make_user):
    from tests.admin_helpers import add_role

    add_role(app, "Accounts", ["users:manage"])
    make_user("clerk@example.com", roles=("Accounts",))
    enrol(app, ADMIN_EMAIL)
    with app.app_context():
        db.session.execute(sa.update(TwoFactor).values(last_step=0))
        db.session.commit()
    login(client, "clerk@example.com")
    edit = f"/settings/users/{user_id(app, ADMIN_EMAIL)}"
    post_form(client, edit + "/two-factor/reset", {}, token_from=edit)
    with app.app_context():
        assert twofactor.enrolled(accounts.find_user(ADMIN_EMAIL))
    assert last_audit(app, "users").action == "refused"


def test_enrolment_page_shows_the_qr_as_inline_svg_without_style(app, admin_client):
    page = admin_client.get("/account/two-factor").get_data(as_text=True)
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "style=" not in svg and "<script" not in svg
    assert SECRET_RE.search(page)
    assert PASSWORD not in page


def parallel_second_steps(app, email: str, code: str, count: int = 6) -> list[str]:
    """Run ``count`` second steps with one code at once (each on its own connection)."""
    with app.app_context():
        target = accounts.find_user(email).id
    barrier = threading.Barrier(count)

    def attempt(n: int) -> str:
        with app.test_request_context(environ_base={"REMOTE_ADDR": f"10.7.0.{n}"}):
            barrier.wait()
            result = signin.attempt_second_factor(target, code, f"10.7.0.{n}", False)
            db.session.commit()
            return result.outcome

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(attempt, range(count)))


def test_one_code_sent_in_parallel_signs_in_once(app):
    secret, _ = enrol(app, ADMIN_EMAIL)
    outcomes = parallel_second_steps(app, ADMIN_EMAIL, pyotp.TOTP(secret).now())
    assert outcomes.count(signin.OK) == 1
    assert outcomes.count(signin.WRONG) == len(outcomes) - 1


def test_one_code_sent_in_parallel_signs_in_once_on_postgres(pg_app):  # noqa: F811
    secret, _ = enrol(pg_app, ADMIN_EMAIL)
    outcomes = parallel_second_steps(pg_app, ADMIN_EMAIL, pyotp.TOTP(secret).now())
    assert outcomes.count(signin.OK) == 1
