"""The same portal on PostgreSQL: migrations, sign-in, maintenance, ingestion and processing.

Runs when PORTAL_TEST_POSTGRES_URI points at a server whose user may create databases (.ci/run
starts one); elsewhere it skips, except under CI where a missing server is a failure.
"""

import os
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.extensions import db
from tests.conftest import ADMIN_EMAIL, PASSWORD, login, make_app

SERVER_URI = os.environ.get("PORTAL_TEST_POSTGRES_URI")


@pytest.fixture()
def pg_app(tmp_path) -> Iterator[Flask]:
    if not SERVER_URI:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: PORTAL_TEST_POSTGRES_URI is not set")
        pytest.skip("PORTAL_TEST_POSTGRES_URI is not set (no PostgreSQL server to test against)")
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(SERVER_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(SERVER_URI).set(database=name)
    uri = url.render_as_string(hide_password=False)
    app = make_app(tmp_path / "unused.db", tmp_path / "instance", SQLALCHEMY_DATABASE_URI=uri)
    result = app.test_cli_runner().invoke(
        args=["setup", "--admin-email", ADMIN_EMAIL, "--admin-password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_database(admin, name)
        admin.dispose()


def drop_database(admin: sa.Engine, name: str) -> None:
    """Drop a test database, its sessions ended. FORCE may not end a backend of another role
    (an autovacuum worker that just started in it): wait for it and try again."""
    for attempt in range(20):
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except sa.exc.ProgrammingError:
            if attempt == 19:
                raise
            time.sleep(0.5)


def test_setup_is_idempotent_on_postgres(pg_app):
    result = pg_app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "nothing to change" in result.output


def test_admin_signs_in_on_postgres(pg_app):
    client = pg_app.test_client()
    assert login(client).status_code == 302
    assert ADMIN_EMAIL in client.get("/").get_data(as_text=True)


def test_event_ids_are_64_bit_on_postgres(pg_app):
    """Issue 8: ``Integer`` ids made GET /api/v1/events/3000000000 a 500 on PostgreSQL."""
    from tests.events_support import api_key

    with pg_app.app_context():
        inspector = sa.inspect(db.engine)
        types = {
            (table, column["name"]): str(column["type"])
            for table in ("events", "deliveries", "audit_entries")
            for column in inspector.get_columns(table)
        }
        db.session.execute(sa.text("SELECT setval('events_id_seq', 3000000000)"))
        db.session.commit()
    assert types[("events", "id")] == "BIGINT" and types[("deliveries", "event_id")] == "BIGINT"
    assert types[("audit_entries", "id")] == "BIGINT"
    client = pg_app.test_client()
    key = api_key(pg_app)
    headers = {"X-API-Key": key}
    assert client.get("/api/v1/events/3000000000", headers=headers).status_code == 404
    answer = client.post("/api/v1/events", json={"type": "big", "source_id": "b"}, headers=headers)
    assert answer.status_code == 202 and answer.get_json()["event_ids"] == [3000000001]
    assert client.get("/api/v1/events/3000000001", headers=headers).get_json()["type"] == "big"
    assert client.get("/api/v1/events/9223372036854775808", headers=headers).status_code == 404
    login(client)
    assert client.get("/settings/users/3000000000").status_code == 404


def test_scheduled_start_happens_once_and_the_window_is_reported_on_postgres(pg_app):
    """Issue 10: racing start claims, and the window report's queries, on PostgreSQL."""
    import threading
    from datetime import timedelta

    from portal.core.clock import utc_now
    from portal.maintenance import get_or_create_state
    from portal.maintenance.report import report
    from portal.maintenance.schedule import STARTED, start_if_due
    from portal.models import AuditEntry
    from tests.events_support import api_key, post_events

    runner = pg_app.test_cli_runner()
    at = f"{utc_now() + timedelta(hours=1):%Y-%m-%dT%H:%M}Z"
    result = runner.invoke(
        args=[
            "maintenance",
            "schedule",
            "--at",
            at,
            "--restrict-events",
            "--bypass-role",
            "Administrator",
            "--bypass-group",
            "Administrators",
        ]
    )
    assert result.exit_code == 0, result.output
    with pg_app.app_context():
        get_or_create_state().scheduled_start = utc_now() - timedelta(seconds=1)
        db.session.commit()
    outcomes, barrier = [], threading.Barrier(4)

    def race() -> None:
        with pg_app.app_context():
            barrier.wait()
            outcomes.append(start_if_due())

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == ["None", "None", "None", STARTED]
    key = api_key(pg_app)
    events = [{"type": "t", "payload": {"n": n}} for n in range(5)]
    assert post_events(pg_app.test_client(), key, {"events": events}).status_code == 202
    assert runner.invoke(args=["maintenance", "disable"]).exit_code == 0
    with pg_app.app_context():
        starts = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.actor == "scheduler")
        ).all()
        assert starts == ["enable"]
        (row,) = report()
        assert (row.window.started_via, row.window.ended_via) == ("scheduler", "cli")
        assert row.events_held == 5 and row.peak_backlog == 5 and row.draining
