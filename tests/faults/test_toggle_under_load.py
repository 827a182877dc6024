"""Ingest from several threads against gunicorn while maintenance and the restriction are
toggled (the domain function the CLI and the settings page use, committed from this process):
no 5xx, no "database is locked", no event started while restricted, none lost."""

import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.maintenance.changes import update_state
from portal.models import Event
from tests.conftest import make_app
from tests.live import LiveServer, flask, last_line, prepare_db, running

pytestmark = pytest.mark.slow

THREADS = 4
BATCH = 10
MAX_BATCHES_PER_THREAD = 3000  # bounds; the threads stop when the toggling is done
MAX_SECONDS = 90
TOGGLES = 5


def ingest_until(stop: threading.Event, url: str, key: str, name: str, outcome: dict) -> None:
    # a connection per request: gunicorn's gthread worker may reset a kept-alive connection
    # under load (benoitc/gunicorn#1698), which says nothing about our app
    deadline = time.monotonic() + MAX_SECONDS
    for n in range(MAX_BATCHES_PER_THREAD):
        if stop.is_set() or time.monotonic() > deadline:
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
            outcome["stored_at"].append(utc_now())
        else:
            outcome["errors"].append(f"{response.status_code}: {response.text[:300]}")


def set_restriction(app, on: bool) -> None:
    """Turn maintenance with the event restriction on or off, and commit."""
    with app.app_context():
        update_state(get_or_create_state(), None, enabled=on, restrict_event_processor=True)
        db.session.commit()
        db.session.remove()


def test_concurrent_ingest_while_toggling_the_restriction(tmp_path: Path):
    db_file = tmp_path / "portal.db"
    env = prepare_db(db_file, PROCESSOR_LEASE_TTL_SECONDS=2.0)
    key = last_line(flask(env, "clients", "rotate-key", "Default"))
    windows: list[tuple] = []  # (restriction committed, restriction about to be lifted)
    outcomes = [{"accepted": 0, "errors": [], "stored_at": []} for _ in range(THREADS)]
    stop = threading.Event()

    app = make_app(db_file, tmp_path / "instance")
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
            for _toggle in range(TOGGLES):
                time.sleep(0.5)
                set_restriction(app, True)
                committed = utc_now()
                assert requests.get(server.url + "/healthz", timeout=10).json() == {
                    "status": "ok",
                    "maintenance": True,
                    "event_processor": "paused",
                }
                time.sleep(1.5)  # long enough for every thread to store events meanwhile
                lifting = utc_now()
                set_restriction(app, False)
                windows.append((committed, lifting))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

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
    stored_at = [moment for outcome in outcomes for moment in outcome["stored_at"]]
    for committed, lifting in windows:
        assert any(committed < moment < lifting for moment in stored_at), "no ingest overlap"
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
