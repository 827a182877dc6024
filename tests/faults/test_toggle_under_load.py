"""Ingest from several threads against gunicorn while the CLI toggles maintenance and the
restriction: no 5xx, no "database is locked", no event started while restricted, none lost."""

import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from portal.clock import utc_now
from portal.extensions import db
from portal.models import Event
from tests.conftest import make_app
from tests.live import LiveServer, flask, last_line, prepare_db, running

pytestmark = pytest.mark.slow

THREADS = 4
BATCH = 20
MAX_BATCHES_PER_THREAD = 150
TOGGLES = 3


def ingest_until(stop: threading.Event, url: str, key: str, name: str, outcome: dict) -> None:
    # a connection per request: gunicorn's gthread worker may reset a kept-alive connection
    # under load (benoitc/gunicorn#1698), which says nothing about our app
    for n in range(MAX_BATCHES_PER_THREAD):
        if stop.is_set():
            return
        events = [
            {"type": "toggle.test", "payload": {"i": i}, "source_id": f"{name}-{n}-{i}"}
            for i in range(BATCH)
        ]
        try:
            response = requests.post(
                url + "/api/v1/events",
                json={"events": events},
                headers={"X-API-Key": key, "Connection": "close"},
                timeout=30,
            )
        except requests.RequestException as exc:
            outcome["errors"].append(repr(exc))
            continue
        if response.status_code == 202:
            outcome["accepted"] += response.json()["accepted"]
        else:
            outcome["errors"].append(f"{response.status_code}: {response.text[:300]}")


def test_concurrent_ingest_while_toggling_the_restriction(tmp_path: Path):
    db_file = tmp_path / "portal.db"
    env = prepare_db(db_file, PROCESSOR_LEASE_TTL_SECONDS=2.0)
    key = last_line(flask(env, "clients", "rotate-key", "Default"))
    windows: list[tuple] = []  # (restriction committed, restriction about to be lifted)
    outcomes = [{"accepted": 0, "errors": []} for _ in range(THREADS)]
    stop = threading.Event()

    with running(LiveServer(env, tmp_path / "gunicorn.log", workers=2)) as server:
        threads = [
            threading.Thread(
                target=ingest_until, args=(stop, server.url, key, f"t{n}", outcomes[n])
            )
            for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        try:
            for n in range(TOGGLES):
                time.sleep(0.5)
                flask(env, "maintenance", "enable", "--restrict-events", "--message", f"m{n}")
                committed = utc_now()  # the CLI has returned: the save has committed
                assert requests.get(server.url + "/healthz", timeout=10).json() == {
                    "status": "ok",
                    "maintenance": True,
                    "event_processor": "paused",
                }
                time.sleep(1.0)
                lifting = utc_now()
                flask(env, "maintenance", "disable")
                windows.append((committed, lifting))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

        app = make_app(db_file, tmp_path / "instance")
        accepted = sum(outcome["accepted"] for outcome in outcomes)
        deadline = time.monotonic() + 60
        while _count(app, Event.status == "processed") < accepted:
            assert time.monotonic() < deadline, "events not processed after the last toggle"
            time.sleep(0.2)
        log = server.output()

    errors = [error for outcome in outcomes for error in outcome["errors"]]
    assert errors == [], errors[:5]
    assert accepted > 0
    assert _count(app) == accepted, "events lost"
    assert "database is locked" not in log
    assert "Traceback" not in log
    assert _count(app, Event.started_at.is_(None)) == 0, "processed events without started_at"
    for committed, lifting in windows:
        started_inside = _count(app, Event.started_at > committed, Event.started_at < lifting)
        assert started_inside == 0, f"{started_inside} events started while restricted"
    print(f"{accepted} events from {THREADS} threads, {TOGGLES} restriction windows, 0 errors")
    with app.app_context():
        db.engine.dispose()


def _count(app, *where) -> int:
    with app.app_context():
        value = db.session.scalar(sa.select(sa.func.count(Event.id)).where(*where))
        db.session.remove()
        return value
