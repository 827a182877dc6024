"""The mail path: the outbox sent by the processor's round to a real SMTP server (aiosmtpd)."""

import time
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from portal.core.clock import utc_now
from portal.events import lease
from portal.extensions import db
from portal.mail import outbox
from portal.mail.messages import render
from portal.mail.sender import send_round
from portal.models import MailAttempt, OutboxMessage
from tests.conftest import make_app, post_form


def queue_test_messages(app: Flask, count: int) -> None:
    with app.app_context():
        for number in range(count):
            outbox.enqueue("test", f"user{number}@example.com", render("test", "Test message"))
        db.session.commit()


def statuses(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(OutboxMessage.status).order_by(OutboxMessage.id)))


def test_a_processor_round_sends_the_outbox(mail_app, smtp):
    queue_test_messages(mail_app, 3)
    assert smtp.received == []  # queued, not sent by the request that queued them
    with mail_app.app_context():
        report = send_round(lease.new_holder_id())
    assert report.sent == 3
    assert statuses(mail_app) == ["sent"] * 3
    got = smtp.to("user1@example.com")
    assert len(got) == 1
    message = got[0].message
    assert message["Subject"] == "[Gateway Portal] Test message"
    assert message["From"] == "Gateway Portal <portal@example.com>"
    assert "http://portal.test" in got[0].part("plain")
    assert '<a href="http://portal.test">' in got[0].part("html")
    with mail_app.app_context():
        answers = list(db.session.scalars(sa.select(MailAttempt.answer)))
    assert answers == ["250 Message accepted for delivery"] * 3


def test_a_round_of_a_process_without_the_lease_sends_nothing(mail_app, smtp):
    queue_test_messages(mail_app, 1)
    with mail_app.app_context():
        assert lease.acquire("other-process")
        assert send_round("this-process").sent == 0
    assert smtp.received == []
    assert statuses(mail_app) == ["pending"]


def test_server_down_is_retried_and_nothing_is_lost(db_path, tmp_path, smtp):
    queue_app = make_app(db_path, tmp_path / "i1", MAIL_BACKOFF_SECONDS=0.0, **smtp.config())
    queue_test_messages(queue_app, 2)
    smtp.stop()
    with queue_app.app_context():
        report = send_round()
        assert report.retrying == 2 and report.sent == 0
        rows = list(db.session.scalars(sa.select(OutboxMessage)))
        assert [(row.status, row.attempts) for row in rows] == [("pending", 1)] * 2
        assert "ConnectionRefusedError" in rows[0].last_error
        attempts = list(db.session.scalars(sa.select(MailAttempt)))
        assert len(attempts) == 2 and not any(attempt.ok for attempt in attempts)
        db.engine.dispose()
    # a restart: a new process on the same database, the server back
    smtp.start()
    restarted = make_app(db_path, tmp_path / "i2", MAIL_BACKOFF_SECONDS=0.0, **smtp.config())
    with restarted.app_context():
        assert send_round().sent == 2
        db.engine.dispose()
    assert sorted(item.rcpt_tos[0] for item in smtp.received) == [
        "user0@example.com",
        "user1@example.com",
    ]
    assert statuses(restarted) == ["sent", "sent"]


def test_a_failed_attempt_waits_for_its_backoff(db_path, tmp_path, smtp):
    app = make_app(db_path, tmp_path / "i", MAIL_BACKOFF_SECONDS=60.0, **smtp.config())
    queue_test_messages(app, 1)
    smtp.stop()
    with app.app_context():
        send_round()
        row = db.session.scalar(sa.select(OutboxMessage))
        assert row.next_attempt_at >= utc_now() + timedelta(seconds=50)
    smtp.start()
    with app.app_context():
        assert send_round().sent == 0  # not due yet
        db.engine.dispose()


def test_a_permanent_refusal_fails_at_once_and_is_kept(mail_app, smtp):
    smtp.handler.refuse = "550 5.1.1 No such user"
    queue_test_messages(mail_app, 1)
    with mail_app.app_context():
        assert send_round().failed == 1
        row = db.session.scalar(sa.select(OutboxMessage))
        assert (row.status, row.last_error) == ("failed", "550 5.1.1 No such user")


def test_mail_off_queues_nothing(app):
    with app.app_context():
        assert not outbox.enqueue("test", "a@example.com", render("test", "Test message"))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
        assert send_round().sent == 0


def test_flask_mail_test_reports_the_answer(mail_app, smtp):
    result = mail_app.test_cli_runner().invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("Sent to ops@example.com: 250 Message accepted for delivery")
    assert len(smtp.to("ops@example.com")) == 1


def test_flask_mail_test_fails_in_one_line(mail_app, smtp, app):
    smtp.stop()
    result = mail_app.test_cli_runner().invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code != 0
    assert result.output.strip().startswith("Error: Not sent: ConnectionRefusedError")
    assert len(result.output.strip().splitlines()) == 1
    off = app.test_cli_runner().invoke(args=["mail", "test", "ops@example.com"])
    assert off.exit_code != 0 and "Mail is off" in off.output
    bad = mail_app.test_cli_runner().invoke(args=["mail", "test", "not-an-address"])
    assert bad.exit_code != 0 and "Not a valid email address" in bad.output


def test_the_running_processor_sends_what_a_request_queued(mail_app, smtp, make_user):
    from portal.events import runner

    make_user("viewer@example.com")
    mail_app.config.update(PROCESSOR_INTERVAL_SECONDS=0.1, PROCESSOR_ENABLED=True)
    client = mail_app.test_client()
    assert post_form(client, "/auth/reset", {"email": "viewer@example.com"}).status_code == 200
    assert smtp.received == []  # the request only queued it
    assert runner.start(mail_app)
    try:
        deadline = time.monotonic() + 20  # a functional deadline, not a timing assertion
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop(mail_app)
    assert [item.rcpt_tos for item in smtp.received] == [["viewer@example.com"]]
    assert statuses(mail_app) == ["sent"]
