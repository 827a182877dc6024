"""GET /metrics: Prometheus text read from the database, behind a bearer token."""

from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from portal.core.clock import utc_now
from portal.events import lease
from portal.extensions import db
from portal.models import Event
from portal.operations import retention
from tests.events_support import (
    HOLDER,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    set_restriction,
)
from tests.live import LiveServer, flask, last_line, prepare_db, running
from tests.live import post_events as post_live

TOKEN = "scrape-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FINISHED = "gateway_events_processed_total"
PROCESSED = (FINISHED, (("client", "Default"), ("outcome", "processed")))


@pytest.fixture()
def app(app):
    app.config.update(METRICS_TOKEN=TOKEN, RETENTION_CHECK_SECONDS=0)
    retention._next_look["at"] = 0.0
    return app


def samples(text: str) -> dict[tuple, float]:
    """Parse with prometheus-client's own parser: {(sample name, sorted labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(http) -> dict[tuple, float]:
    response = http.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(response.get_data(as_text=True))


def _ingest(app, http, count: int, client_name: str = "Default", prefix: str = "m"):
    events = [{"type": "t", "payload": {}, "source_id": f"{prefix}{n}"} for n in range(count)]
    response = post_events(http, api_key(app, client_name), {"events": events})
    assert response.status_code == 202
    return response.get_json()["event_ids"]


def test_metrics_are_not_served_without_a_configured_token(app, client):
    app.config["METRICS_TOKEN"] = None
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}", f"bearer  {TOKEN}"],
)
def test_a_wrong_or_missing_token_gets_401_with_nothing_in_it(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.get_data() == b""
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_backlog_per_client_maintenance_and_the_lease(app, client):
    _ingest(app, client, 3)
    _ingest(app, client, 2, client_name="Acme", prefix="a")
    with app.app_context():
        assert lease.acquire(HOLDER)
    figures = scrape(client)
    assert figures[("gateway_events_queued", (("client", "Default"),))] == 3
    assert figures[("gateway_events_queued", (("client", "Acme"),))] == 2
    assert figures[("gateway_events_held", (("client", "Acme"),))] == 0
    assert figures[("gateway_maintenance_enabled", ())] == 0
    assert figures[("gateway_event_processor_restricted", ())] == 0
    assert figures[("gateway_event_processor_lease", (("holder", HOLDER),))] == 1

    set_restriction(app, True)
    figures = scrape(client)
    assert figures[("gateway_events_held", (("client", "Acme"),))] == 2
    assert figures[("gateway_maintenance_enabled", ())] == 1
    assert figures[("gateway_event_processor_restricted", ())] == 1
    with app.app_context():
        lease.release(HOLDER)
    assert scrape(client)[("gateway_event_processor_lease", (("holder", ""),))] == 0


def test_counters_and_latency_survive_retention(app, client):
    add_workflow(app)
    # the first event also meets an action that fails at once: that event fails
    add_workflow(app, name="bad", action="bogus", condition={"field": "n", "op": "eq", "value": 0})
    events = [{"type": "t", "payload": {"n": n}, "source_id": f"m{n}"} for n in range(5)]
    assert post_events(client, api_key(app), {"events": events}).status_code == 202
    run_tick(app)
    processed = (
        "gateway_events_processed_total",
        (("client", "Default"), ("outcome", "processed")),
    )
    failed = ("gateway_events_processed_total", (("client", "Default"), ("outcome", "failed")))
    delivered = ("gateway_deliveries_total", (("client", "Default"), ("status", "succeeded")))
    latency_count = ("gateway_delivery_latency_seconds_count", ())
    fast = ("gateway_delivery_latency_seconds_bucket", (("le", "0.05"),))
    purged = ("gateway_retention_purged_events_total", (("client", "Default"),))
    undelivered = ("gateway_deliveries_total", (("client", "Default"), ("status", "failed")))
    before = scrape(client)
    assert (before[processed], before[failed], before[delivered], before[undelivered]) == (
        4,
        1,
        5,
        1,
    )
    assert before[latency_count] == 6 and before[fast] == 6  # record actions finish at once
    assert before[purged] == 0

    with app.app_context():  # as if they had finished a month ago
        old = utc_now() - timedelta(days=31)
        db.session.execute(sa.update(Event).values(processed_at=old))
        db.session.commit()
    assert scrape(client) == before
    assert run_tick(app).purged == 5

    after = scrape(client)
    for key in (processed, failed, delivered, latency_count, fast):
        assert after[key] == before[key], key
    assert after[purged] == 5
    assert after[("gateway_retention_purged_deliveries_total", (("client", "Default"),))] == 6
    assert after[("gateway_retention_last_purge_timestamp_seconds", (("client", "Default"),))] > 0


@pytest.mark.slow
def test_every_gunicorn_worker_answers_the_same_figures(tmp_path):
    """Several workers, one of them the processor: any worker's scrape shows the database."""
    env = prepare_db(tmp_path / "portal.db", METRICS_TOKEN=TOKEN)
    with running(LiveServer(env, tmp_path / "server.log", workers=3)) as server:
        key = last_line(flask(env, "clients", "rotate-key", "Default"))
        post_live(server.url, key, [{"type": "t", "payload": {}} for _ in range(7)])
        seen = []
        for _ in range(40):
            response = requests.get(server.url + "/metrics", headers=AUTH, timeout=10)
            assert response.status_code == 200
            figures = samples(response.text)
            seen.append(figures[("gateway_events_queued", (("client", "Default"),))])
            holders = [k for k in figures if k[0] == "gateway_event_processor_lease"]
            if seen[-1] == 0 and figures[holders[0]] == 1:
                break
        assert seen[-1] == 0, seen
        processed = (
            "gateway_events_processed_total",
            (("client", "Default"), ("outcome", "processed")),
        )
        for _ in range(12):  # requests land on different workers: all agree
            response = requests.get(server.url + "/metrics", headers=AUTH, timeout=10)
            assert samples(response.text)[processed] == 7
