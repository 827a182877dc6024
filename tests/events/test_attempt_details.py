"""Every webhook attempt keeps the request's headers (secrets redacted), the response's status,
headers and the first 4 KiB of its body; the event page shows them and names its client."""

import sqlalchemy as sa

from portal.events.webhooks import transport
from portal.extensions import db
from portal.models import DeliveryAttempt
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    webhook_server,
)


def _attempts(app) -> list[DeliveryAttempt]:
    with app.app_context():
        rows = db.session.scalars(sa.select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        db.session.expunge_all()
        return rows


def test_attempt_keeps_the_answer_and_the_redacted_request(app, admin_client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_BACKOFF_SECONDS=0.0)
    recorder = Recorder()
    recorder.statuses = [500]
    recorder.headers = {"X-Trace-Id": "trace-42"}
    recorder.body = b'{"error": "database down"}' + b"x" * 10_000
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        event_id = post_events(admin_client, api_key(app), {"type": "t"}).get_json()["event_ids"][0]
        run_tick(app)
        signatures = [r["headers"]["webhook-signature"] for r in server.requests]
    first, second = _attempts(app)
    assert (first.status_code, second.status_code) == (500, 200)
    assert first.response_headers["X-Trace-Id"] == "trace-42"
    assert first.response_body.startswith('{"error": "database down"}')
    assert len(first.response_body.encode()) == transport.KEPT_BODY_BYTES
    sent = {name.lower(): value for name, value in first.request_headers.items()}
    assert sent["webhook-signature"] == transport.REDACTED
    assert sent["webhook-id"] == sent["idempotency-key"]
    assert sent["user-agent"] == transport.USER_AGENT
    page = admin_client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "trace-42" in page and "database down" in page
    assert 'id="event-client">Default' in page
    assert transport.REDACTED in page
    assert not any(signature in page for signature in signatures)
    assert not any(signature.split(",", 1)[1] in page for signature in signatures)


def test_a_call_without_an_answer_keeps_the_request_headers(app):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_TIMEOUT_SECONDS=1.0)
    from tests.live import free_port

    add_workflow(app, action="webhook", url=f"http://127.0.0.1:{free_port()}/hook", secret=SECRET)
    with app.test_client() as http:
        post_events(http, api_key(app), {"type": "t"})
    run_tick(app)
    (attempt,) = _attempts(app)
    assert attempt.status_code is None and attempt.response_headers is None
    assert attempt.request_headers["webhook-signature"] == transport.REDACTED


def test_redaction_covers_every_secret_header_whatever_its_case():
    shown = transport.redacted(
        {"Authorization": "Bearer s3cret", "WEBHOOK-SIGNATURE": "v1,abc", "webhook-id": "7"}
    )
    assert shown["Authorization"] == shown["WEBHOOK-SIGNATURE"] == transport.REDACTED
    assert shown["webhook-id"] == "7"
    assert "s3cret" not in repr(shown)
