"""Webhook actions against a real local HTTP server: signature, idempotency key, retries."""

import hashlib
import hmac
from datetime import timedelta

import sqlalchemy as sa

from portal.clock import utc_now
from portal.events import deliveries, processor
from portal.events.actions import CallOutcome
from portal.events.deliveries import record_attempt
from portal.extensions import db
from portal.models import Delivery
from tests.events_support import (
    Recorder,
    add_workflow,
    api_key,
    body_json,
    events_by_id,
    post_events,
    run_tick,
    set_restriction,
    webhook_server,
)


def _delivery(app) -> Delivery:
    with app.app_context():
        row = db.session.scalars(sa.select(Delivery)).one()
        db.session.expunge(row)
        return row


def _fast_retries(app, attempts: int = 3) -> None:
    app.config.update(WEBHOOK_MAX_ATTEMPTS=attempts, WEBHOOK_BACKOFF_SECONDS=0.0)


def test_webhook_is_signed_and_carries_the_idempotency_key(app, client):
    with webhook_server() as (url, server):
        add_workflow(app, action="webhook", url=url, secret="top-secret")
        key = api_key(app)
        event_id = post_events(client, key, {"type": "door", "payload": {"d": 1}}).get_json()[
            "event_ids"
        ][0]
        run_tick(app)
        assert server.count == 1
        request = server.requests[0]
        delivery = _delivery(app)
        assert request["headers"]["Idempotency-Key"] == str(delivery.id)
        expected = hmac.new(b"top-secret", request["body"], hashlib.sha256).hexdigest()
        assert request["headers"]["X-Signature"] == f"sha256={expected}"
        assert request["headers"]["Content-Type"] == "application/json"
        document = body_json(request)
        assert (document["id"], document["type"], document["payload"]) == (
            event_id,
            "door",
            {"d": 1},
        )
        shown = client.get(f"/api/v1/events/{event_id}", headers={"X-API-Key": key}).get_json()
        assert shown["status"] == "processed"
        assert shown["deliveries"][0]["response_code"] == 200


def test_failures_are_retried_then_succeed_with_the_same_key(app, client):
    _fast_retries(app)
    recorder = Recorder()
    recorder.statuses = [500, 503]
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret="k")
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        assert server.count == 3
        assert len({r["headers"]["Idempotency-Key"] for r in server.requests}) == 1
        assert len({r["body"] for r in server.requests}) == 1
    delivery = _delivery(app)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    (event,) = events_by_id(app).values()
    assert (event.status, event.attempts) == ("processed", 3)


def test_exhausted_retries_fail_the_delivery_and_the_event(app, client):
    _fast_retries(app, attempts=3)
    recorder = Recorder()
    recorder.statuses = [500] * 10
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret="k")
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        run_tick(app)
        assert server.count == 3
    delivery = _delivery(app)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 500")
    (event,) = events_by_id(app).values()
    assert event.status == "failed"
    assert event.last_error == "HTTP 500"


def test_unreachable_url_is_a_failure(app, client):
    _fast_retries(app, attempts=2)
    add_workflow(app, action="webhook", url="http://127.0.0.1:9/nothing", secret="k")
    post_events(client, api_key(app), {"type": "t"})
    run_tick(app)
    delivery = _delivery(app)
    assert delivery.status == "failed"
    assert delivery.response_code is None
    assert "Error" in delivery.last_error


def test_backoff_doubles_after_each_failure(app, client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=5, WEBHOOK_BACKOFF_SECONDS=10.0)
    add_workflow(app, action="webhook", url="http://127.0.0.1:9/x", secret="k")
    post_events(client, api_key(app), {"type": "t"})
    with app.app_context():
        processor.lease.acquire("t")
        processor.process_batch("t", 10)
        delivery = db.session.scalars(sa.select(Delivery)).one()
        for attempt, delay in [(1, 10), (2, 20), (3, 40)]:
            before = utc_now()
            record_attempt(delivery.id, delivery.event_id, attempt, CallOutcome(False, 502, "x"))
            db.session.refresh(delivery)
            assert delivery.status == "pending"
            wait = delivery.next_attempt_at - before
            assert timedelta(seconds=delay) <= wait < timedelta(seconds=delay + 5)


def test_retry_waits_until_due(app, client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=5, WEBHOOK_BACKOFF_SECONDS=3600.0)
    recorder = Recorder()
    recorder.statuses = [500]
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret="k")
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        run_tick(app)
        assert server.count == 1
    assert _delivery(app).status == "pending"
    assert next(iter(events_by_id(app).values())).status == "queued"


def test_no_retry_goes_out_while_restricted(app, client):
    _fast_retries(app, attempts=5)
    recorder = Recorder()
    recorder.statuses = [500]
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret="k")
        post_events(client, api_key(app), {"type": "t"})
        with app.app_context():
            processor.lease.acquire("t")
            processor.process_batch("t", 10)
            original = deliveries.record_attempt

            def restrict_after_first(*args):
                original(*args)
                set_restriction(app, True)

            deliveries.record_attempt = restrict_after_first
            try:
                deliveries.run_due("t", float("inf"))
            finally:
                deliveries.record_attempt = original
        assert server.count == 1
        run_tick(app, "t")
        assert server.count == 1
        set_restriction(app, False)
        run_tick(app, "t")
        assert server.count == 2
    assert _delivery(app).status == "succeeded"
