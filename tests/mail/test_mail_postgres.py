"""The mail path on PostgreSQL: migration 0012, the outbox's bulk writes, notices and a reset."""

import sqlalchemy as sa

from portal.extensions import db
from portal.mail.sender import send_round
from portal.models import MailAttempt, OutboxMessage
from tests.conftest import ADMIN_EMAIL, post_form
from tests.maintenance_helpers import set_maintenance
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)


def test_notices_and_a_reset_are_sent_on_postgres(pg_app, smtp):  # noqa: F811
    pg_app.config.update(MAIL_BACKOFF_SECONDS=0.0, **smtp.config())
    set_maintenance(pg_app, True, ("Administrator",), ("Administrators",))
    client = pg_app.test_client()
    assert post_form(client, "/auth/reset", {"email": ADMIN_EMAIL}).status_code == 200
    with pg_app.app_context():
        assert send_round().sent == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MailAttempt)) == 2
        statuses = set(db.session.scalars(sa.select(OutboxMessage.status)))
    assert statuses == {"sent"}
    subjects = sorted(item.message["Subject"] for item in smtp.to(ADMIN_EMAIL))
    assert subjects == [
        "[Gateway Portal] Maintenance has started",
        "[Gateway Portal] Reset your password",
    ]
