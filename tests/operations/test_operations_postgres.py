"""Retention, metrics and backup on PostgreSQL (skips without PORTAL_TEST_POSTGRES_URI)."""

from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import ClientTotals, Event
from portal.operations import retention
from tests.events_support import add_workflow, api_key, post_events, run_tick, set_restriction
from tests.operations.test_metrics import AUTH, PROCESSED, samples
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)


def test_retention_and_metrics_on_postgres(pg_app, tmp_path):  # noqa: F811
    pg_app.config.update(
        METRICS_TOKEN=AUTH["Authorization"].split()[1],
        RETENTION_CHECK_SECONDS=0,
    )
    retention._next_look["at"] = 0.0
    http = pg_app.test_client()
    add_workflow(pg_app)
    body = {"events": [{"type": "t", "payload": {"n": n}} for n in range(6)]}
    ids = post_events(http, api_key(pg_app), body).get_json()["event_ids"]
    run_tick(pg_app)
    with pg_app.app_context():
        db.session.execute(
            sa.update(Event)
            .where(Event.id.in_(ids[:4]))
            .values(processed_at=utc_now() - timedelta(days=45))
        )
        db.session.execute(sa.delete(ClientTotals))  # as if summed after they aged
        db.session.commit()
    before = samples(http.get("/metrics", headers=AUTH).get_data(as_text=True))
    assert before[PROCESSED] == 6
    assert before[("gateway_delivery_latency_seconds_count", ())] == 6

    set_restriction(pg_app, True)
    assert run_tick(pg_app).purged == 0
    set_restriction(pg_app, False)
    assert run_tick(pg_app).purged == 4
    with pg_app.app_context():
        assert set(db.session.scalars(sa.select(Event.id))) == set(ids[4:])

    after = samples(http.get("/metrics", headers=AUTH).get_data(as_text=True))
    assert after[PROCESSED] == 6
    assert after[("gateway_delivery_latency_seconds_count", ())] == 6
    assert after[("gateway_retention_purged_events_total", (("client", "Default"),))] == 4

    result = pg_app.test_cli_runner().invoke(args=["backup", str(tmp_path / "copy.db")])
    assert result.exit_code != 0 and "pg_dump" in result.output
