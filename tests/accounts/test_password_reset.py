"""Password reset by email, end to end with a real SMTP server: the link from the message."""

import re
from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.mail.sender import send_round
from portal.models import OutboxMessage, PasswordReset
from tests.conftest import ADMIN_EMAIL, PASSWORD, csrf_token, login, post_form
from tests.maintenance_helpers import login_refusal, set_maintenance

USER = "forgetful@example.com"
NEW_PASSWORD = "plum-orchard-lantern-42"
LINK_RE = re.compile(r"http://portal\.test(/auth/reset/[A-Za-z0-9_-]+)")
SENT = "If an account with this email address exists, we have sent it a link"


def ask(client, email: str = USER):
    return post_form(client, "/auth/reset", {"email": email})


def link_from_mail(app, smtp, email: str = USER) -> str:
    with app.app_context():
        send_round()
    received = smtp.to(email)
    assert received, f"no email to {email}"
    text, html = received[-1].part("plain"), received[-1].part("html")
    path = LINK_RE.search(text).group(1)
    assert path in html
    return path


def set_password(client, path: str, password: str = NEW_PASSWORD):
    return post_form(client, path, {"new_password": password, "confirm": password})


def test_reset_end_to_end_from_the_emailed_link(mail_app, smtp, make_user):
    make_user(USER)
    other = mail_app.test_client()
    assert login(other, USER).status_code == 302  # a session elsewhere
    client = mail_app.test_client()
    assert "Forgot password?" in client.get("/auth/login").get_data(as_text=True)
    page = ask(client).get_data(as_text=True)
    assert SENT in page
    path = link_from_mail(mail_app, smtp)
    message = smtp.to(USER)[0].message
    assert message["Subject"] == "[Gateway Portal] Reset your password"
    assert "30 minutes" in smtp.to(USER)[0].part("plain")
    assert "Choose a new password" in client.get(path).get_data(as_text=True)
    response = set_password(client, path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/login")
    assert other.get("/").status_code == 302  # every other session ended
    assert login(client, USER, PASSWORD).status_code == 200  # the old password is gone
    assert login(client, USER, NEW_PASSWORD).status_code == 302
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordReset)) == 0
        sent = db.session.scalar(sa.select(OutboxMessage))
        assert sent.status == "sent" and path not in sent.text_body + sent.html_body  # not kept


def test_the_answer_is_the_same_for_unknown_and_inactive_accounts(mail_app, smtp, make_user):
    make_user(USER)
    client = mail_app.test_client()
    known = ask(client).get_data(as_text=True)
    unknown = ask(client, "nobody@example.com").get_data(as_text=True)
    strip = re.compile(r'name="csrf_token"[^>]*>|value="[^"]*"')
    assert strip.sub("", known) == strip.sub("", unknown)
    with mail_app.app_context():
        send_round()
    assert [item.rcpt_tos for item in smtp.received] == [[USER]]


def test_a_used_link_is_refused(mail_app, smtp, make_user):
    make_user(USER)
    client = mail_app.test_client()
    ask(client)
    path = link_from_mail(mail_app, smtp)
    token = csrf_token(client, path)
    assert set_password(client, path).status_code == 302
    again = client.post(
        path,
        data={
            "new_password": "x-" + NEW_PASSWORD,
            "confirm": "x-" + NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert again.status_code == 404 and "This link no longer works" in again.get_data(as_text=True)
    assert login(client, USER, NEW_PASSWORD).status_code == 302


def test_an_expired_link_and_a_replaced_link_are_refused(mail_app, smtp, make_user):
    make_user(USER)
    client = mail_app.test_client()
    ask(client)
    first = link_from_mail(mail_app, smtp)
    ask(client)
    second = link_from_mail(mail_app, smtp)
    assert first != second
    assert client.get(first).status_code == 404  # a newer link was sent
    assert client.get(second).status_code == 200
    with mail_app.app_context():
        row = db.session.scalar(sa.select(PasswordReset))
        row.expires_at = row.created_at + timedelta(minutes=30)
        row.created_at -= timedelta(minutes=31)
        row.expires_at -= timedelta(minutes=31)
        db.session.commit()
    page = client.get(second)
    assert page.status_code == 404 and "older than 30 minutes" in page.get_data(as_text=True)


def test_a_link_dies_when_the_password_changes(mail_app, smtp, make_user):
    make_user(USER)
    client = mail_app.test_client()
    ask(client)
    path = link_from_mail(mail_app, smtp)
    login(client, USER)
    changed = post_form(
        client,
        "/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert mail_app.test_client().get(path).status_code == 404


def test_the_new_password_must_pass_the_rules(mail_app, smtp, make_user):
    make_user(USER)
    client = mail_app.test_client()
    ask(client)
    path = link_from_mail(mail_app, smtp)
    weak = set_password(client, path, "password")
    assert weak.status_code == 200
    assert 'class="error"' in weak.get_data(as_text=True)
    assert set_password(client, path).status_code == 302  # still usable after a refusal


def test_the_reset_form_is_throttled_per_email_address(mail_app, smtp, make_user):
    make_user(USER)
    client = mail_app.test_client()
    for _ in range(5):  # PASSWORD_RESET_THROTTLE: 5 per 15 minutes
        assert ask(client).status_code == 200
    throttled = ask(client)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    # the same for an address without an account: the throttle is no oracle either
    for _ in range(5):
        assert ask(client, "nobody@example.com").status_code == 200
    assert ask(client, "nobody@example.com").status_code == 429
    with mail_app.app_context():
        send_round()
    assert len(smtp.to(USER)) == 5


def test_a_blocked_user_may_reset_but_not_sign_in_during_maintenance(mail_app, smtp, make_user):
    make_user(USER)
    set_maintenance(mail_app, True, ("Administrator",), ("Administrators",))
    client = mail_app.test_client()
    ask(client)
    path = link_from_mail(mail_app, smtp)
    assert set_password(client, path).status_code == 302
    refused = login(client, USER, NEW_PASSWORD)
    assert refused.status_code == 200
    error, _ = login_refusal(refused.get_data(as_text=True))
    assert error.startswith("Sign-in failed. During maintenance only some teams may sign in.")
    wrong = login(client, USER, "not-the-password")
    assert login_refusal(wrong.get_data(as_text=True))[0] == error  # no password oracle
    assert login(client, ADMIN_EMAIL).status_code == 302


def test_mail_off_says_so_and_sends_nothing(client, make_user, app):
    make_user(USER)
    page = client.get("/auth/reset").get_data(as_text=True)
    assert "Password reset by email is not available: Mail is off" in page
    assert 'name="email"' not in page
    posted = post_form(client, "/auth/reset", {"email": USER}, token_from="/auth/login")
    assert "Mail is off" in posted.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordReset)) == 0
