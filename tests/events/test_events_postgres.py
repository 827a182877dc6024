"""The event pipeline on PostgreSQL: ingestion ids and idempotency, processing, webhooks, lease.

Uses the PostgreSQL fixture of ``test_postgres`` (skips without PORTAL_TEST_POSTGRES_URI).
"""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Delivery, Event
from tests.events.test_events_processor import check_broken_condition_fails_only_its_events
from tests.events_support import (
    add_workflow,
    api_key,
    body_json,
    post_events,
    run_tick,
    set_restriction,
    webhook_server,
)
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)


def test_ingest_and_process_on_postgres(pg_app):  # noqa: F811
    key = api_key(pg_app)
    http = pg_app.test_client()
    post_events(http, key, {"type": "x", "source_id": "s-3"})
    batch = [{"type": "t", "payload": {"n": i}, "source_id": f"s-{i}"} for i in range(1000)]
    body = post_events(http, key, {"events": batch}).get_json()
    assert (body["accepted"], body["duplicates"]) == (999, 1)
    with pg_app.app_context():
        stored = dict(db.session.execute(sa.select(Event.id, Event.payload)).all())
    assert [stored[event_id] for event_id in body["event_ids"][4:7]] == [
        {"n": 4},
        {"n": 5},
        {"n": 6},
    ]
    with webhook_server() as (url, server):
        add_workflow(pg_app, name="log")
        add_workflow(
            pg_app,
            action="webhook",
            url=url,
            secret="k",
            condition={"field": "n", "op": "lt", "value": 3},
        )
        set_restriction(pg_app, True)
        assert run_tick(pg_app).started == 0
        set_restriction(pg_app, False)
        while run_tick(pg_app).started:
            pass
        # calls run in parallel: they may arrive in any order
        payloads = sorted((body_json(r)["payload"] for r in server.requests), key=lambda p: p["n"])
        assert payloads == [{"n": i} for i in range(3)]
    with pg_app.app_context():
        statuses = set(db.session.scalars(sa.select(Event.status)))
        deliveries = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery))
    assert statuses == {"processed"}
    assert deliveries == 1000 + 3
    detail = http.get(f"/api/v1/events/{body['event_ids'][0]}", headers={"X-API-Key": key})
    assert detail.get_json()["deliveries"][0]["status"] == "succeeded"


def test_concurrent_duplicates_on_postgres(pg_app):  # noqa: F811
    from concurrent.futures import ThreadPoolExecutor

    key = api_key(pg_app)
    batch = {"events": [{"type": "t", "source_id": f"dup-{i}"} for i in range(50)]}

    def send(_):
        return post_events(pg_app.test_client(), key, batch)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(12)))
    assert [r.status_code for r in responses] == [202] * 12
    assert sum(r.get_json()["accepted"] for r in responses) == 50
    assert len({tuple(r.get_json()["event_ids"]) for r in responses}) == 1


def test_edge_values_on_postgres(pg_app):  # noqa: F811
    """NUL, unpaired surrogates and overflowing numbers are a 400 where PostgreSQL could not
    store them, and stored exactly where it can."""
    key = api_key(pg_app)
    http = pg_app.test_client()
    for raw in (
        b'{"type": "a\\u0000"}',
        b'{"type": "\\ud800"}',
        b'{"type": "a", "payload": 1}',
        b'{"type": "a", "payload": {"x": 1e999}}',
    ):
        response = http.post(
            "/api/v1/events", data=raw, content_type="application/json", headers={"X-API-Key": key}
        )
        assert response.status_code == 400, raw
    payload = {"big": 2**80, "text": "\ud800 \u0000 é", "f": 1.5e308}
    body = post_events(http, key, {"events": [{"type": "a", "payload": payload}] * 300}).get_json()
    shown = http.get(f"/api/v1/events/{body['event_ids'][299]}", headers={"X-API-Key": key})
    assert shown.get_json()["payload"] == payload


def test_a_broken_condition_fails_only_its_events_on_postgres(pg_app):  # noqa: F811
    check_broken_condition_fails_only_its_events(pg_app)
