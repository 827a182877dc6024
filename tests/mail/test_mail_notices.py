"""Maintenance notices by email: who gets which message, when, and what it never says."""

import csv as csv_module
import io
from datetime import timedelta

import sqlalchemy as sa

from portal import accounts
from portal.core.clock import utc_now
from portal.extensions import db
from portal.mail.sender import send_round
from portal.models import OutboxMessage
from tests.conftest import ADMIN_EMAIL, login, post_form
from tests.maintenance_helpers import set_maintenance

BLOCKED = "blocked@example.com"
BYPASS_ROLE, BYPASS_GROUP = "Administrator", "Administrators"


def ids(app) -> tuple[int, int]:
    with app.app_context():
        return accounts.find_roles([BYPASS_ROLE])[0].id, accounts.find_groups([BYPASS_GROUP])[0].id


def form(app, **fields) -> dict:
    role, group = ids(app)
    data = {"bypass_roles": role, "bypass_groups": group, "notice_minutes": 30, "message": ""}
    data.update(fields)
    return data


def send(app) -> None:
    with app.app_context():
        send_round()


def topics(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(OutboxMessage.topic, OutboxMessage.to_address, OutboxMessage.status)
        )
        return sorted(tuple(row) for row in rows)


def test_a_start_now_emails_blocked_and_bypass_users_without_the_selection(
    mail_app, smtp, make_user
):
    make_user(BLOCKED)
    client = mail_app.test_client()
    login(client)
    response = post_form(
        client,
        "/settings/maintenance",
        form(mail_app, enabled="y", email_users="y", message="Database upgrade."),
    )
    assert response.status_code == 302
    assert smtp.received == []  # queued in the request, sent by the processor
    send(mail_app)
    blocked = smtp.to(BLOCKED)
    bypass = smtp.to(ADMIN_EMAIL)
    assert len(blocked) == len(bypass) == 1
    blocked_text, blocked_html = blocked[0].part("plain"), blocked[0].part("html")
    assert blocked[0].message["Subject"] == "[Gateway Portal] Maintenance has started"
    assert "you cannot sign in" in blocked_text and "Database upgrade." in blocked_text
    assert "http://portal.test" in blocked_text
    for text in (blocked_text, blocked_html):
        assert BYPASS_ROLE not in text and ADMIN_EMAIL not in text
        assert "keep working" not in text
    assert "may keep working" in bypass[0].part("plain")
    assert "Database upgrade." in bypass[0].part("html")


def test_the_end_emails_everyone_and_an_opt_out_is_respected(mail_app, smtp, make_user):
    make_user(BLOCKED)
    make_user("quiet@example.com", roles=("Administrator",), groups=("Administrators",))
    quiet = mail_app.test_client()
    login(quiet, "quiet@example.com")
    assert "Maintenance emails" in quiet.get("/account").get_data(as_text=True)
    assert post_form(quiet, "/account", {}).status_code == 302  # the checkbox unticked
    set_maintenance(mail_app, True, (BYPASS_ROLE,), (BYPASS_GROUP,))
    set_maintenance(mail_app, False, (BYPASS_ROLE,), (BYPASS_GROUP,))
    send(mail_app)
    assert smtp.to("quiet@example.com") == []
    ended = smtp.to(BLOCKED)
    assert [item.message["Subject"] for item in ended] == [
        "[Gateway Portal] Maintenance has started",
        "[Gateway Portal] Maintenance has ended",
    ]
    assert "has ended" in ended[1].part("plain")
    assert post_form(quiet, "/account", {"maintenance_emails": "y"}).status_code == 302
    set_maintenance(mail_app, True, (BYPASS_ROLE,), (BYPASS_GROUP,))
    send(mail_app)
    assert len(smtp.to("quiet@example.com")) == 1


def test_a_scheduled_start_emails_at_the_notice_time_and_a_cancel_stops_it(
    mail_app, smtp, make_user
):
    make_user(BLOCKED)
    client = mail_app.test_client()
    login(client)
    start = utc_now() + timedelta(hours=3)
    at = f"{start:%Y-%m-%dT%H:%M}"
    fields = form(mail_app, scheduled_start=at, email_users="y", notice_minutes=60)
    assert post_form(client, "/settings/maintenance", fields).status_code == 302
    with mail_app.app_context():
        rows = list(db.session.scalars(sa.select(OutboxMessage)))
        assert {row.topic for row in rows} == {"maintenance-notice"}
        notice_at = start.replace(second=0, microsecond=0) - timedelta(minutes=60)
        assert {row.next_attempt_at for row in rows} == {notice_at}
    send(mail_app)
    assert smtp.received == []  # not before the notice time
    cancel = form(mail_app, scheduled_start=at, unschedule="y", email_users="y")
    assert post_form(client, "/settings/maintenance", cancel).status_code == 302
    assert {status for *_, status in topics(mail_app)} == {"cancelled"}
    # within the notice period already: the notice goes at once
    soon = f"{utc_now() + timedelta(minutes=20):%Y-%m-%dT%H:%M}"
    fields = form(mail_app, scheduled_start=soon, email_users="y", message="Move to v2.")
    assert post_form(client, "/settings/maintenance", fields).status_code == 302
    send(mail_app)
    blocked, bypass = smtp.to(BLOCKED), smtp.to(ADMIN_EMAIL)
    assert len(blocked) == len(bypass) == 1
    assert blocked[0].message["Subject"].startswith("[Gateway Portal] Maintenance starts at ")
    text = blocked[0].part("plain")
    assert f"starts at {soon.replace('T', ' ')} UTC" in text and "Move to v2." in text
    assert "From then on you cannot sign in" in text and BYPASS_ROLE not in text
    assert "may keep working" in bypass[0].part("plain")


def test_unticked_email_users_sends_nothing(mail_app, smtp, make_user):
    make_user(BLOCKED)
    client = mail_app.test_client()
    login(client)
    response = post_form(client, "/settings/maintenance", form(mail_app, enabled="y"))
    assert response.status_code == 302
    send(mail_app)
    assert smtp.received == [] and topics(mail_app) == []


def test_the_form_offers_email_users_and_the_review_counts_the_emails(mail_app, make_user, app):
    make_user(BLOCKED)
    client = mail_app.test_client()
    login(client)
    page = client.get("/settings/maintenance").get_data(as_text=True)
    assert 'id="email_users" name="email_users" type="checkbox" value="y"' in page
    assert 'checked id="email_users"' in page  # on by default with mail configured
    fields = form(mail_app, enabled="y", email_users="y", review="Review changes")
    review = post_form(client, "/settings/maintenance", fields).get_data(as_text=True)
    assert "Sends <strong>2 emails</strong> to affected users" in review
    off = app.test_client()
    login(off)
    page = off.get("/settings/maintenance").get_data(as_text=True)
    assert "Mail is off on this instance" in page
    fields = form(app, enabled="y", review="Review changes")
    assert "No emails: Mail is off" in post_form(off, "/settings/maintenance", fields).get_data(
        as_text=True
    )


def test_the_window_report_counts_its_notices_sent_and_failed(mail_app, smtp, make_user):
    make_user(BLOCKED)
    set_maintenance(mail_app, True, (BYPASS_ROLE,), (BYPASS_GROUP,))
    send(mail_app)  # 2 sent
    smtp.handler.refuse = "550 5.7.1 Refused"
    set_maintenance(mail_app, False, (BYPASS_ROLE,), (BYPASS_GROUP,))
    send(mail_app)  # 2 refused for good
    client = mail_app.test_client()
    login(client)
    csv = client.get("/settings/maintenance/windows?format=csv").get_data(as_text=True)
    figures = next(csv_module.DictReader(io.StringIO(csv)))
    assert (figures["notices_sent"], figures["notices_failed"]) == ("2", "2")
    page = client.get("/settings/maintenance/windows").get_data(as_text=True)
    assert "Notices sent" in page and "Notices failed" in page


def test_the_scheduled_start_sends_nothing_more_and_its_window_counts_the_notices(
    mail_app, smtp, make_user
):
    from portal.maintenance import get_or_create_state
    from portal.maintenance.schedule import STARTED, start_if_due

    make_user(BLOCKED)
    soon = utc_now() + timedelta(minutes=10)  # within the notice period: the notices go now
    set_maintenance(
        mail_app, False, (BYPASS_ROLE,), (BYPASS_GROUP,), scheduled_start=soon, notice_minutes=30
    )
    send(mail_app)
    assert len(smtp.received) == 2
    with mail_app.app_context():
        get_or_create_state().scheduled_start = utc_now() - timedelta(seconds=1)
        db.session.commit()
        assert start_if_due() == STARTED
    send(mail_app)
    assert len(smtp.received) == 2  # the notice announced this start: no second email
    client = mail_app.test_client()
    login(client)
    csv = client.get("/settings/maintenance/windows?format=csv").get_data(as_text=True)
    assert next(csv_module.DictReader(io.StringIO(csv)))["notices_sent"] == "2"
