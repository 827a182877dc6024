"""Processing throughput, enforcement overhead, resume latency and the restriction under load."""

import json
import random
import statistics
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from bench_setup import BATCH, PASSWORD, event_rows, make_app

from portal import maintenance
from portal.core.clock import utc_now
from portal.events import processor
from portal.extensions import db
from portal.models import Workflow
from portal.models.tables import events as events_t
from portal.models.tables import maintenance as state_t


def bench_processing(app, client_id: int) -> tuple[float, int]:
    """Drain every queued event through one ``record`` workflow; return events/s and count."""
    with app.app_context():
        db.session.add(Workflow(client_id=client_id, name="record all", event_type="*"))
        db.session.commit()
        started, total = time.perf_counter(), 0
        while True:
            report = processor.tick("benchmark")
            total += report.started
            if not report.started:
                break
        elapsed = time.perf_counter() - started
        processor.lease.release("benchmark")
    return total / elapsed, total


def signed_in_client(app):
    http = app.test_client()
    response = http.post("/auth/login", data={"email": "admin@example.com", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return http


def bench_enforcement(db_file: Path, rounds: int, requests_per_round: int) -> float:
    """Cost of the maintenance hook on a signed-in page: the same app with and without it,
    interleaved rounds, median of the paired per-round overheads.

    Each round is timed in CPU time of this thread (the test client serves in-process), so
    other processes competing for the CPU do not bias one side.
    """
    with_hook = make_app(db_file)
    without_hook = make_app(db_file)
    without_hook.before_request_funcs[None].remove(maintenance.enforce_maintenance)
    clients = {"with": signed_in_client(with_hook), "without": signed_in_client(without_hook)}
    for http in clients.values():  # warm both up
        for _ in range(20):
            http.get("/")
    overheads = []
    for index in range(rounds):
        cost = {}
        for name in ("with", "without") if index % 2 == 0 else ("without", "with"):
            http = clients[name]
            started = time.thread_time()
            for _ in range(requests_per_round):
                assert http.get("/").status_code == 200
            cost[name] = time.thread_time() - started
        overheads.append((cost["with"] / cost["without"] - 1) * 100)
    return statistics.median(overheads)


def set_restriction(engine: sa.Engine, on: bool) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(state_t).values(enabled=on, restrict_event_processor=on, changed_at=utc_now())
        )


def bench_resume(app, engine, client_id: int, interval: float, rounds: int) -> list[float]:
    """Hold events, lift the restriction, and time until the first held one starts."""
    from portal.events.ingest import parse_events, store_events

    latencies = []
    for index in range(rounds):
        set_restriction(engine, True)
        with app.app_context():
            items = parse_events({"events": event_rows(10_000_000 + index * 100, 100)}, BATCH)
            ids = store_events(client_id, items).event_ids
        time.sleep(interval * (1.5 + random.random()))  # lift at a random phase of the schedule
        set_restriction(engine, False)
        lifted = utc_now()
        first = None
        deadline = time.monotonic() + 20 * interval + 5
        while first is None and time.monotonic() < deadline:
            with engine.connect() as connection:
                first = connection.execute(
                    sa.select(sa.func.min(events_t.c.started_at)).where(events_t.c.id.in_(ids))
                ).scalar()
            if first is None:
                time.sleep(0.005)
        if first is None:
            raise RuntimeError("held events never started")
        if isinstance(first, str):
            first = sa.DateTime().result_processor(engine.dialect, None)(first)
        latencies.append((first - lifted).total_seconds() / interval)
    return latencies


def bench_restriction(base, key, engine, seconds: float) -> tuple[int, int, int, int]:
    """Ingest and toggle the restriction concurrently; count events started inside a window
    between a committed 'on' and the start of the following 'off'."""
    windows: list[tuple] = []
    stop = threading.Event()

    def toggler() -> None:
        while not stop.is_set():
            set_restriction(engine, True)
            opened = utc_now()
            time.sleep(random.uniform(0.15, 0.4))
            closed = utc_now()
            set_restriction(engine, False)
            windows.append((opened, closed))
            time.sleep(random.uniform(0.1, 0.3))

    counter = [20_000_000]
    lock = threading.Lock()
    failures: list[int] = []

    def ingester() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                with lock:
                    start = counter[0]
                    counter[0] += 200
                body = json.dumps({"events": event_rows(start, 200)})
                http.post(
                    base + "/api/v1/events",
                    data=body,
                    headers={"X-API-Key": key, "Content-Type": "application/json"},
                )

    threads = [threading.Thread(target=toggler)] + [
        threading.Thread(target=ingester) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    time.sleep(1.0)
    violations = 0
    with engine.connect() as connection:
        for opened, closed in windows:
            violations += connection.execute(
                sa.select(sa.func.count()).where(
                    events_t.c.started_at > opened, events_t.c.started_at < closed
                )
            ).scalar()
        started = connection.execute(
            sa.select(sa.func.count()).where(
                events_t.c.started_at.is_not(None), events_t.c.source_id.like("src-2_______")
            )
        ).scalar()
    return violations, len(windows), started, len(failures)
