"""Performance harness: ingestion, processing, enforcement overhead, resume latency, restriction.

Everything is measured in one run on one machine; the last line printed is one JSON object.
Run from the repository root: ``python benchmarks/run.py --quick`` (under two minutes).
"""

import argparse
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal import accounts, create_app, maintenance  # noqa: E402
from portal.clock import utc_now  # noqa: E402
from portal.events import processor  # noqa: E402
from portal.events.tables import events as events_t  # noqa: E402
from portal.events.tables import maintenance as state_t  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Workflow  # noqa: E402

PASSWORD = "benchmark-password"
BATCH = 1000


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_app(db_file: Path, **config):
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "SECRET_KEY": "benchmark",
        "PROCESSOR_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
    }
    settings.update(config)
    return create_app(settings, instance_path=str(db_file.parent / "instance"))


def prepare(db_file: Path) -> tuple[object, str, int]:
    """Create the schema and admin; return the app, the Default client's API key and its id."""
    app = make_app(db_file)
    result = app.test_cli_runner().invoke(args=["setup", "--admin-password", PASSWORD])
    assert result.exit_code == 0, result.output
    with app.app_context():
        client = accounts.find_client(accounts.DEFAULT_CLIENT)
        key = accounts.rotate_api_key(client)
        db.session.commit()
        return app, key, client.id


def event_rows(start: int, count: int) -> list[dict]:
    return [
        {
            "type": "sensor.reading",
            "payload": {"device": f"dev-{n % 50}", "temp": 20 + n % 7, "seq": n},
            "source_id": f"src-{n}",
        }
        for n in range(start, start + count)
    ]


def env_for(db_file: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        FLASK_APP="wsgi",
        PORTAL_SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_file}",
        PORTAL_SECRET_KEY="benchmark",
    )
    env.update({f"PORTAL_{k}": str(v) for k, v in extra.items()})
    return env


def start_gunicorn(db_file: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env_for(db_file, PROCESSOR_ENABLED="false"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def post_batches(base: str, key: str, bodies: list[bytes], threads: int) -> float:
    """POST the pre-encoded batches from ``threads`` clients; return the wall time."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    errors = []

    def worker() -> None:
        with requests.Session() as http:
            headers = {"X-API-Key": key, "Content-Type": "application/json"}
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                response = http.post(base + "/api/v1/events", data=body, headers=headers)
                if response.status_code != 202:
                    errors.append(response.status_code)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"ingestion errors: {errors[:5]}")
    return elapsed


def bench_ingest(base: str, key: str, batches: int, offset: int, threads: int = 4) -> float:
    bodies = [
        json.dumps({"events": event_rows(offset + i * BATCH, BATCH)}).encode()
        for i in range(batches)
    ]
    post_batches(base, key, bodies[:2], 2)  # warm the workers up
    elapsed = post_batches(base, key, bodies[2:], threads)
    return (batches - 2) * BATCH / elapsed


def bench_persist_queue(folder: Path, count: int) -> float:
    from persistqueue import SQLiteAckQueue

    queue = SQLiteAckQueue(str(folder / "pq"), auto_commit=True, multithreading=True)
    rows = event_rows(0, count)
    started = time.perf_counter()
    for row in rows:
        queue.put(row)
    return count / (time.perf_counter() - started)


def bench_raw_sqlite(folder: Path, count: int) -> float:
    connection = sqlite3.connect(folder / "raw.db")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, client_id INTEGER, type TEXT, payload TEXT,"
        " source_id TEXT, received_at TEXT, status TEXT, attempts INTEGER,"
        " UNIQUE (client_id, source_id))"
    )
    rows = event_rows(0, count)
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        now = utc_now().isoformat(" ")
        connection.executemany(
            "INSERT INTO events (client_id, type, payload, source_id, received_at, status,"
            " attempts) VALUES (1, ?, ?, ?, ?, 'queued', 0)",
            [
                (r["type"], json.dumps(r["payload"]), r["source_id"], now)
                for r in rows[start : start + BATCH]
            ],
        )
        connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, under two minutes")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    quick = args.quick
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    db_file = folder / "portal.db"
    app, key, client_id = prepare(db_file)
    engine = sa.create_engine(f"sqlite:///{db_file}")
    interval = 0.5
    results: dict = {}

    gunicorn, base = start_gunicorn(db_file, args.workers)
    try:
        batches = 32 if quick else 120
        rate = bench_ingest(base, key, batches, offset=0)
        log(
            f"ingest: {rate:,.0f} events/s over HTTP "
            f"(gunicorn -w {args.workers}, batches of {BATCH})"
        )
        count = 2_000 if quick else 10_000
        pq_rate = bench_persist_queue(folder, count)
        log(f"persist-queue SQLiteAckQueue put loop: {pq_rate:,.0f} events/s")
        raw_rate = bench_raw_sqlite(folder, 20_000 if quick else 100_000)
        log(f"raw sqlite3 executemany: {raw_rate:,.0f} events/s")
        results.update(
            ingest_events_per_s=round(rate),
            persist_queue_events_per_s=round(pq_rate),
            raw_sqlite_events_per_s=round(raw_rate),
            ingest_vs_persist_queue=round(rate / pq_rate, 2),
            ingest_vs_raw_sqlite=round(rate / raw_rate, 3),
        )

        process_rate, processed = bench_processing(app, client_id)
        log(f"processing (record workflow): {process_rate:,.0f} events/s ({processed} events)")
        results["process_events_per_s"] = round(process_rate)

        rounds, per_round = (30, 30) if quick else (100, 50)
        overhead = bench_enforcement(db_file, rounds, per_round)
        log(f"maintenance enforcement overhead: {overhead:.2f}% (median of {rounds} rounds)")
        results["enforcement_overhead_pct"] = round(overhead, 2)

        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "processor", "run"],
            cwd=ROOT,
            env=env_for(db_file, PROCESSOR_INTERVAL_SECONDS=interval),
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)
            latencies = bench_resume(app, engine, client_id, interval, 4 if quick else 10)
            log(
                "resume latency: "
                + ", ".join(f"{value:.2f}" for value in latencies)
                + f" processor intervals (interval {interval}s)"
            )
            results["resume_latency_intervals"] = round(max(latencies), 3)
            results["resume_latency_median_intervals"] = round(statistics.median(latencies), 3)
            violations, windows, started, failed = bench_restriction(
                base, key, engine, 4 if quick else 15
            )
            log(
                f"restriction under load: {violations} events started after the restriction "
                f"commit ({windows} on/off windows, {started} events started meanwhile, "
                f"{failed} ingestion requests not accepted)"
            )
            results["events_started_after_restriction"] = violations
            results["restriction_windows"] = windows
            results["ingest_failures_while_toggling"] = failed
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        engine.dispose()
    results["quick"] = quick
    print(json.dumps(results))


if __name__ == "__main__":
    main()
