"""The processor round: matching workflows, record deliveries, the restriction and resuming."""

import pytest
import sqlalchemy as sa

from portal.events import counters, evaluation
from portal.events.conditions import condition_holds, condition_problem
from portal.extensions import db
from portal.models import Delivery, Event
from tests.admin_helpers import audit_entries
from tests.conftest import login
from tests.events_support import (
    add_workflow,
    api_key,
    body_json,
    client_id,
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


def _ingest(app, client, events) -> list[int]:
    response = post_events(client, api_key(app), {"events": events})
    assert response.status_code == 202
    return response.get_json()["event_ids"]


def test_record_workflow_processes_events_and_stores_results(app, client):
    flow = add_workflow(app, event_type="door.opened", name="log doors")
    ids = _ingest(app, client, [{"type": "door.opened", "payload": {"n": i}} for i in range(3)])
    report = run_tick(app)
    assert report.started == 3
    events = events_by_id(app)
    assert [events[i].status for i in ids] == ["processed"] * 3
    assert all(events[i].processed_at and events[i].started_at for i in ids)
    deliveries = _deliveries(app)
    assert [(d.event_id, d.workflow_id, d.status) for d in deliveries] == [
        (i, flow, "succeeded") for i in ids
    ]
    assert deliveries[0].result["workflow"] == "log doors"


def test_events_without_a_matching_workflow_are_simply_processed(app, client):
    add_workflow(app, event_type="other")
    add_workflow(app, event_type="*", enabled=False)
    api_key(app, "Elsewhere")
    add_workflow(app, "Elsewhere", event_type="*")
    ids = _ingest(app, client, [{"type": "door.opened"}])
    run_tick(app)
    assert events_by_id(app)[ids[0]].status == "processed"
    assert _deliveries(app) == []


def test_payload_condition_selects_events(app, client):
    flow = add_workflow(
        app, condition={"field": "reading.temp", "op": "gt", "value": 30}, name="hot"
    )
    ids = _ingest(
        app,
        client,
        [
            {"type": "t", "payload": {"reading": {"temp": 35}}},
            {"type": "t", "payload": {"reading": {"temp": 20}}},
            {"type": "t", "payload": {}},
            {"type": "t", "payload": {"reading": {"temp": "hot"}}},
        ],
    )
    run_tick(app)
    assert [(d.event_id, d.workflow_id) for d in _deliveries(app)] == [(ids[0], flow)]
    assert {e.status for e in events_by_id(app).values()} == {"processed"}


def test_batches_are_claimed_oldest_first(app, client):
    app.config["PROCESSOR_BATCH_SIZE"] = 2
    add_workflow(app)
    ids = _ingest(app, client, [{"type": "t"} for _ in range(5)])
    run_tick(app)
    assert [d.event_id for d in _deliveries(app)] == ids


def test_restriction_holds_events_and_makes_no_call(app, client):
    with webhook_server() as (url, server):
        add_workflow(app, action="webhook", url=url, secret="s3cret")
        set_restriction(app, True)
        ids = _ingest(app, client, [{"type": "t", "payload": {"n": i}} for i in range(4)])
        for _ in range(3):
            assert run_tick(app).started == 0
        assert server.count == 0
        events = events_by_id(app)
        assert [(events[i].status, events[i].started_at) for i in ids] == [("queued", None)] * 4
        key = api_key(app)
        assert (
            client.get(f"/api/v1/events/{ids[0]}", headers={"X-API-Key": key}).get_json()["status"]
            == "queued"
        )


def test_restriction_without_maintenance_means_nothing(app, client):
    add_workflow(app)
    set_restriction(app, True, enabled=False)
    ids = _ingest(app, client, [{"type": "t"}])
    run_tick(app)
    assert events_by_id(app)[ids[0]].status == "processed"


def test_resume_processes_held_events_in_arrival_order(app, client):
    with webhook_server() as (url, server):
        # one call at a time: with calls in parallel, arrivals at the receiver may interleave
        add_workflow(app, action="webhook", url=url, secret="k", max_in_flight=1)
        set_restriction(app, True)
        ids = _ingest(app, client, [{"type": "t", "payload": {"n": i}} for i in range(6)])
        run_tick(app)
        assert server.count == 0
        set_restriction(app, False)
        run_tick(app)
        assert [body_json(r)["id"] for r in server.requests] == ids
        assert {e.status for e in events_by_id(app).values()} == {"processed"}


def test_restriction_committed_between_batches_stops_the_next_batch(app, client):
    """A save that commits while a round is running stops every later batch of that round."""
    add_workflow(app)
    app.config["PROCESSOR_BATCH_SIZE"] = 2
    _ingest(app, client, [{"type": "t"} for _ in range(6)])
    from portal.events import processor

    original = processor.process_batch
    calls = []

    def batch_then_restrict(holder, size):
        started = original(holder, size)
        calls.append(started)
        if len(calls) == 1:
            set_restriction(app, True)
        return started

    processor.process_batch = batch_then_restrict
    try:
        run_tick(app)
    finally:
        processor.process_batch = original
    statuses = [e.status for e in events_by_id(app).values()]
    assert statuses == ["processed", "processed", "queued", "queued", "queued", "queued"]
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(Event.started_at.is_not(None))) == 2
        )


@pytest.mark.parametrize(
    ("condition", "payload", "holds"),
    [
        (None, {}, True),
        ({"field": "a.b", "op": "eq", "value": 1}, {"a": {"b": 1}}, True),
        ({"field": "a.b", "op": "eq", "value": 1}, {"a": {"b": 2}}, False),
        ({"field": "a", "op": "ne", "value": 1}, {}, True),
        ({"field": "n", "op": "lt", "value": 5}, {"n": 4.5}, True),
        ({"field": "n", "op": "gt", "value": 5}, {"n": "x"}, False),
        ({"field": "items.0", "op": "exists"}, {"items": ["first"]}, True),
        ({"field": "items.3", "op": "exists"}, {"items": ["first"]}, False),
        # Never raise, whatever was stored: '²'.isdigit() but int('²') fails; int('١') == 1.
        ({"field": "items.²", "op": "exists"}, {"items": ["first"]}, False),
        ({"field": "items.١", "op": "exists"}, {"items": ["a", "b"]}, False),
        ({"field": "items.²", "op": "eq", "value": 1}, {"items": {"²": 1}}, True),
        ({"field": "items." + "9" * 30, "op": "exists"}, {"items": ["first"]}, False),
        ({"field": "n", "op": "gt", "value": 1.5}, {"n": 10**400}, True),
        ({"field": "n", "op": "lt", "value": float("nan")}, {"n": 1}, False),
        ({"field": "n", "op": "lt", "value": [1, 2]}, {"n": [1, "x"]}, False),
        (["field"], {}, False),
        ({"field": 3, "op": "eq", "value": 3}, {"3": 3}, False),
        ({"field": "items.-1", "op": "exists"}, {"items": ["first"]}, False),
    ],
)
def test_payload_conditions(condition, payload, holds):
    assert condition_holds(condition, payload) is holds


@pytest.mark.parametrize(
    "condition",
    [
        "text",
        {"op": "eq", "value": 1},
        {"field": "a", "op": "like", "value": 1},
        {"field": "a", "op": "eq"},
        {"field": "items.²", "op": "exists"},
        {"field": "a..b", "op": "exists"},
        {"field": ".a", "op": "exists"},
        {"field": "a" * 201, "op": "exists"},
        {"field": ".".join("a" * 33), "op": "exists"},
        ["field", "op"],
    ],
)
def test_invalid_conditions_are_explained(condition):
    assert condition_problem(condition)
    assert condition_problem({"field": "a", "op": "exists"}) is None


def _two_clients(app, client, a_events, b_events) -> tuple[list[int], list[int]]:
    a_ids = _ingest(app, client, a_events)
    response = post_events(client, api_key(app, "Other"), {"events": b_events})
    assert response.status_code == 202
    return a_ids, response.get_json()["event_ids"]


def test_a_stored_condition_the_processor_cannot_follow_fails_only_its_events(app):
    check_broken_condition_fails_only_its_events(app)


def check_broken_condition_fails_only_its_events(app) -> None:
    """One client's unusable condition: its events fail, audited; the other client's go on."""
    client = app.test_client()
    # Stored before the validation existed (or straight into the database): not through a form.
    broken = add_workflow(
        app,
        name="Count items",
        event_type="order.created",
        condition={"field": "items.²", "op": "exists", "value": None},
    )
    api_key(app, "Other")
    other = add_workflow(app, "Other", name="Log orders", event_type="order.created")
    order = {"type": "order.created", "payload": {"items": ["a", "b", "c"]}}
    a_ids, b_ids = _two_clients(app, client, [order, order, {"type": "door.opened"}], [order] * 2)
    run_tick(app)
    events = events_by_id(app)
    assert [events[i].status for i in b_ids] == ["processed", "processed"]
    assert [(d.event_id, d.workflow_id) for d in _deliveries(app)] == [(i, other) for i in b_ids]
    assert [events[i].status for i in a_ids] == ["failed", "failed", "processed"]
    error = events[a_ids[0]].last_error
    assert error.startswith("Workflow Count items could not run: its condition cannot be")
    assert "² is not a list position" in error and "replay the event" in error
    (entry,) = audit_entries(app, "workflows")  # one per workflow and batch, not per event
    assert (entry.action, entry.actor, entry.client_id) == (
        "evaluation_failed",
        "processor",
        client_id(app),
    )
    assert entry.after["workflow_id"] == broken and entry.after["events"] == 2
    assert "Count items" in entry.description and "² is not a list position" in entry.description
    with app.app_context():
        figures = counters.figures([client_id(app), client_id(app, "Other")])
    assert figures == {
        client_id(app): {"queued": 0, "failed": 2},
        client_id(app, "Other"): {"queued": 0, "failed": 0},
    }
    login(client)
    detail = client.get(f"/events/{a_ids[0]}").get_data(as_text=True)
    assert "Workflow Count items could not run" in detail
    assert "Workflow Count items could not run" in client.get("/events?status=failed").text
    assert "Workflow Count items could not run" in client.get("/settings/audit").text


def test_a_workflow_whose_evaluation_raises_fails_that_event_alone(app, client, monkeypatch):
    real = evaluation.condition_holds

    def fragile(condition, payload):
        if payload.get("boom"):
            raise RuntimeError("the evaluator broke")
        return real(condition, payload)

    monkeypatch.setattr(evaluation, "condition_holds", fragile)
    add_workflow(app, name="Hot", condition={"field": "t", "op": "gt", "value": 30})
    api_key(app, "Other")
    add_workflow(app, "Other", name="Hot too", condition={"field": "t", "op": "gt", "value": 30})
    boom = {"type": "reading", "payload": {"t": 40, "boom": True}}
    fine = {"type": "reading", "payload": {"t": 40}}
    a_ids, b_ids = _two_clients(app, client, [boom, fine, boom], [fine, boom])
    run_tick(app)
    events = events_by_id(app)
    statuses = [events[i].status for i in a_ids + b_ids]
    assert statuses == ["failed", "processed", "failed", "processed", "failed"]
    assert events[a_ids[0]].last_error == (
        "Workflow Hot could not run: evaluating it raised RuntimeError: the evaluator broke. "
        "Fix it, then replay the event."
    )
    assert len(_deliveries(app)) == 2  # the two events that did not fail, one workflow each
    entries = audit_entries(app, "workflows")
    assert sorted((e.client_id, e.after["events"]) for e in entries) == [
        (client_id(app), 2),
        (client_id(app, "Other"), 1),
    ]
