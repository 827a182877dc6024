"""Webhook actions against a real local HTTP server: Standard Webhooks signing, retries,
failing receivers, the circuit breaker and the per-workflow limits."""

import socket
import threading
import time
from contextlib import contextmanager, suppress
from datetime import timedelta

import pytest
import sqlalchemy as sa
import standardwebhooks

from portal.core.clock import utc_now
from portal.events.webhooks import outcomes, transport
from portal.events.webhooks.slots import Item, Slots
from portal.extensions import db
from portal.models import Delivery, DeliveryAttempt, Workflow
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    drain,
    events_by_id,
    post_events,
    run_tick,
    set_restriction,
    webhook_server,
)


def _deliveries(app) -> list[Delivery]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).all()
        db.session.expunge_all()
        return rows


def _delivery(app) -> Delivery:
    (row,) = _deliveries(app)
    return row


def _attempts(app) -> list[DeliveryAttempt]:
    with app.app_context():
        rows = db.session.scalars(sa.select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        db.session.expunge_all()
        return rows


def _fast_retries(app, attempts: int = 3) -> None:
    app.config.update(WEBHOOK_MAX_ATTEMPTS=attempts, WEBHOOK_BACKOFF_SECONDS=0.0)


def test_webhook_verifies_with_the_standardwebhooks_package(app, client):
    with webhook_server() as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        key = api_key(app)
        event_id = post_events(client, key, {"type": "door", "payload": {"d": 1}}).get_json()[
            "event_ids"
        ][0]
        run_tick(app)
        assert server.count == 1
        request = server.requests[0]
        delivery = _delivery(app)
        headers = {name.lower(): value for name, value in request["headers"].items()}
        # exactly what a receiver does: verify, then use the payload
        verified = standardwebhooks.Webhook(SECRET).verify(request["body"], headers)
        assert (verified["id"], verified["type"], verified["payload"]) == (
            event_id,
            "door",
            {"d": 1},
        )
        assert headers["webhook-id"] == headers["idempotency-key"] == str(delivery.id)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook("whsec_" + "A" * 32).verify(request["body"], headers)
        shown = client.get(f"/api/v1/events/{event_id}", headers={"X-API-Key": key}).get_json()
        assert shown["status"] == "processed"
        assert shown["deliveries"][0]["response_code"] == 200


def test_failures_are_retried_then_succeed_with_the_same_webhook_id(app, client):
    _fast_retries(app)
    recorder = Recorder()
    recorder.statuses = [500, 503]
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        assert server.count == 3
        assert len({r["headers"]["webhook-id"] for r in server.requests}) == 1
        assert len({r["body"] for r in server.requests}) == 1
    delivery = _delivery(app)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    assert [a.status_code for a in _attempts(app)] == [500, 503, 200]
    (event,) = events_by_id(app).values()
    assert (event.status, event.attempts) == ("processed", 3)


def test_exhausted_retries_fail_the_delivery_and_the_event(app, client):
    _fast_retries(app, attempts=3)
    recorder = Recorder()
    recorder.statuses = [500] * 10
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        run_tick(app)
        assert server.count == 3
    delivery = _delivery(app)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 500")
    (event,) = events_by_id(app).values()
    assert (event.status, event.last_error) == ("failed", "HTTP 500")


def test_unreachable_url_is_a_failure(app, client):
    _fast_retries(app, attempts=2)
    add_workflow(app, action="webhook", url="http://127.0.0.1:9/nothing", secret=SECRET)
    post_events(client, api_key(app), {"type": "t"})
    run_tick(app)
    delivery = _delivery(app)
    assert delivery.status == "failed"
    assert delivery.response_code is None
    assert "Error" in delivery.last_error


def test_backoff_doubles_with_jitter_and_retry_after_is_honoured_up_to_the_cap(app):
    app.config.update(WEBHOOK_BACKOFF_SECONDS=10.0, WEBHOOK_RETRY_AFTER_MAX_SECONDS=60.0)
    failed = transport.CallOutcome(False, 502, "HTTP 502")
    with app.app_context():
        for attempts, delay in [(1, 10), (2, 20), (3, 40)]:
            waits = {outcomes.retry_delay(attempts, failed) for _ in range(20)}
            assert all(delay <= wait <= delay * 1.25 for wait in waits)
            assert len(waits) > 1  # jitter: retries of many deliveries do not line up
        asked = transport.CallOutcome(False, 429, "HTTP 429", retry_after=30.0)
        assert outcomes.retry_delay(1, asked) == 30.0
        greedy = transport.CallOutcome(False, 503, "HTTP 503", retry_after=86400.0)
        assert outcomes.retry_delay(1, greedy) == 60.0


def test_retry_after_header_sets_the_next_attempt(app, client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=5, WEBHOOK_BACKOFF_SECONDS=0.0)
    recorder = Recorder()
    recorder.statuses = [429]
    recorder.headers = {"Retry-After": "120"}
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        before = utc_now()
        run_tick(app)
        assert server.count == 1
    delivery = _delivery(app)
    assert delivery.status == "pending"
    assert timedelta(seconds=115) <= delivery.next_attempt_at - before <= timedelta(seconds=125)


def test_retry_waits_until_due(app, client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=5, WEBHOOK_BACKOFF_SECONDS=3600.0)
    recorder = Recorder()
    recorder.statuses = [500]
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        run_tick(app)
        assert server.count == 1
    assert _delivery(app).status == "pending"
    assert next(iter(events_by_id(app).values())).status == "queued"


def test_no_call_goes_out_while_restricted_and_held_calls_go_out_after(app, client):
    _fast_retries(app, attempts=5)
    with webhook_server() as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        with app.app_context():
            from portal.events import lease, processor

            lease.acquire("t")
            processor.process_batch("t", 10)
        set_restriction(app, True)
        drain(app, "t")
        assert server.count == 0
        assert _delivery(app).status == "pending"
        set_restriction(app, False)
        run_tick(app, "t")
        assert server.count == 1
    assert _delivery(app).status == "succeeded"


def test_restriction_committed_after_connect_stops_the_call(app, client, monkeypatch):
    """The check runs once the connection is ready, right before the request is written."""
    with webhook_server() as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        connected = []

        def restrict_once_connected(address, _allowed):  # the target rule's hook point
            connected.append(address)
            set_restriction(app, True)  # commits while the socket is already open

        monkeypatch.setattr(transport, "check_connected_address", restrict_once_connected)
        run_tick(app)
        assert connected and connected[0][0] == "127.0.0.1"
        assert server.count == 0
    delivery = _delivery(app)
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert _attempts(app) == []


@contextmanager
def raw_receiver(answer):
    """A TCP receiver that runs ``answer(connection)`` for every request it accepts."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_answer, args=(connection, answer), daemon=True).start()

    def _answer(connection, answer):
        with connection:
            connection.recv(65536)
            with suppress(OSError):
                answer(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join()
        listener.close()


def _hang(connection):
    time.sleep(3)


def _trickle(connection):
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        connection.sendall(b"x")
        time.sleep(0.1)


def _huge(connection):
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(800):
        connection.sendall(chunk)


def _reset(connection):
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def _redirect(connection):
    connection.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n"
    )


def _server_error(connection):
    connection.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (_hang, "Timed out after 1s"),
        (_trickle, "Timed out after 1s"),  # a trickle times out: the timeout bounds the whole call
        (_huge, "body over"),
        (_reset, "Error"),
        (_redirect, "HTTP 302 (redirects are not followed)"),
        (_server_error, "HTTP 500"),
    ],
)
def test_a_bad_receiver_is_a_failed_attempt_with_a_clear_error(app, client, answer, error):
    app.config.update(WEBHOOK_TIMEOUT_SECONDS=1.0, WEBHOOK_MAX_ATTEMPTS=1)
    with raw_receiver(answer) as url, webhook_server() as (good_url, good):
        bad_id = add_workflow(app, action="webhook", url=url, secret=SECRET)
        add_workflow(app, name="good", action="webhook", url=good_url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        assert good.count == 1  # the other workflow did not lose its call
    bad = next(d for d in _deliveries(app) if d.workflow_id == bad_id)
    assert bad.status == "failed"
    assert error in bad.last_error
    (attempt,) = [a for a in _attempts(app) if a.delivery_id == bad.id]
    assert error in attempt.error
    (event,) = events_by_id(app).values()
    assert event.status == "failed"


def test_a_failing_endpoint_is_paused_and_its_deliveries_held(app, client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=10, WEBHOOK_BACKOFF_SECONDS=0.0)
    app.config.update(WEBHOOK_CIRCUIT_FAILURES=3, WEBHOOK_CIRCUIT_SECONDS=0)
    recorder = Recorder()
    recorder.statuses = [500] * 3
    with webhook_server(recorder) as (url, server):
        flow_id = add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        run_tick(app)
        assert server.count == 3
        with app.app_context():
            flow = db.session.get(Workflow, flow_id)
            assert flow.paused_at is not None
            assert "3 consecutive failed calls" in flow.pause_reason
            flow.paused_at = None  # what resuming does (tested on the events page)
            flow.consecutive_failures = 0
            db.session.commit()
        assert _delivery(app).status == "pending"  # held, not failed
        run_tick(app)
        assert server.count == 4
    assert _delivery(app).status == "succeeded"


def test_a_burst_of_failures_opens_the_circuit_only_once_it_has_lasted(app, client):
    """Calls in flight that fail together (a receiver's bad moment) do not pause the endpoint;
    the same run of failures still going on after WEBHOOK_CIRCUIT_SECONDS does."""
    app.config.update(WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_BACKOFF_SECONDS=0.0)
    app.config.update(WEBHOOK_CIRCUIT_FAILURES=3, WEBHOOK_CIRCUIT_SECONDS=3600)
    recorder = Recorder()
    recorder.statuses = [500] * 100
    with webhook_server(recorder) as (url, server):
        flow_id = add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t", "source_id": "first"})
        run_tick(app)
        assert server.count == 3
        with app.app_context():
            flow = db.session.get(Workflow, flow_id)
            assert flow.consecutive_failures == 3 and flow.failing_since is not None
            assert flow.paused_at is None  # a run of failures younger than the span
            flow.failing_since -= timedelta(hours=2)  # the same run, two hours on
            db.session.commit()
        post_events(client, api_key(app), {"type": "t", "source_id": "second"})
        run_tick(app)
        with app.app_context():
            flow = db.session.get(Workflow, flow_id)
            assert flow.paused_at is not None and flow.consecutive_failures >= 4


@pytest.mark.parametrize(("cap", "expected_most"), [(1, 1), (None, 5)])
def test_calls_in_flight_follow_the_workflow_cap(app, client, cap, expected_most):
    recorder = Recorder()
    recorder.delay = 0.3
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET, max_in_flight=cap)
        post_events(client, api_key(app), {"events": [{"type": "t"} for _ in range(5)]})
        run_tick(app)
        assert server.count == 5
        assert recorder.most_in_flight == expected_most
    if cap == 1:  # one at a time, oldest first
        ids = [int(r["headers"]["webhook-id"]) for r in server.requests]
        assert ids == sorted(ids)


def _item(n: int) -> Item:
    return Item(n, n, 1, 0, b"{}")


def test_rate_limit_spaces_the_calls_of_a_workflow():
    slots = Slots(100)
    lane = slots.lane(1)
    lane.rate = 2.0
    lane.queue.extend(_item(n) for n in range(3))
    assert slots.take(now=10.0) is not None
    assert slots.take(now=10.1) is None  # the next is due half a second later
    assert slots.next_ready(10.1) == pytest.approx(10.5)
    assert slots.take(now=10.5) is not None


def test_a_timing_out_endpoint_ends_up_with_few_slots_and_the_fast_one_gets_the_rest():
    slots = Slots(100)
    slow, fast = slots.lane(1), slots.lane(2)
    for n in range(1000):
        slow.queue.append(_item(n))
        fast.queue.append(_item(10_000 + n))
    for _ in range(200):  # rounds: every slow call times out, every fast one succeeds
        taken = []
        while (picked := slots.take()) is not None:
            taken.append(picked[0])
        for lane in taken:
            slots.done(lane, sent=True, ok=lane is fast, slow=lane is slow)
    assert slots.limit(slow) == 1
    assert slots.limit(fast) == 100


def test_a_retry_after_in_non_ascii_digits_is_ignored(app, client):
    """isdigit() says "²" is a digit; float() refuses it. The receiver's header is ignored."""
    app.config.update(WEBHOOK_MAX_ATTEMPTS=5, WEBHOOK_BACKOFF_SECONDS=3600.0)
    recorder = Recorder()
    recorder.statuses = [429]
    recorder.headers = {"Retry-After": "²".encode().decode("latin-1")}  # sent as UTF-8 bytes
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        post_events(client, api_key(app), {"type": "t"})
        before = utc_now()
        run_tick(app)
        assert server.count == 1
    delivery = _delivery(app)
    assert delivery.status == "pending" and delivery.response_code == 429
    assert delivery.next_attempt_at - before >= timedelta(seconds=3500)  # the own backoff
