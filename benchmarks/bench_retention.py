"""Retention: ingestion while a large purge runs, and the file size over ingest/purge cycles."""

import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from bench_ingest import bench_ingest
from bench_setup import BATCH, ROOT, env_for, event_rows, log, prepare

from portal.core.clock import utc_now
from portal.events import lease, processor
from portal.events.ingest import parse_events, store_events
from portal.extensions import db
from portal.operations import retention

HOLDER = "benchmark-retention"


def fill_finished(db_file: Path, client_id: int, events: int, days_ago: float) -> None:
    """Insert ``events`` processed events, each with one succeeded delivery, finished
    ``days_ago`` (raw sqlite3: this is test data, not the code under test)."""
    finished = (utc_now() - timedelta(days=days_ago)).isoformat(" ")
    connection = sqlite3.connect(db_file)
    start = connection.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0] + 1
    for first in range(start, start + events, 10_000):
        ids = range(first, min(first + 10_000, start + events))
        connection.executemany(
            "INSERT INTO events (id, client_id, type, payload, source_id, received_at, status,"
            " started_at, processed_at, attempts) VALUES (?, ?, 'old', '{}', NULL, ?,"
            " 'processed', ?, ?, 1)",
            [(i, client_id, finished, finished, finished) for i in ids],
        )
        connection.executemany(
            "INSERT INTO deliveries (event_id, status, attempts, created_at, finished_at)"
            " VALUES (?, 'succeeded', 1, ?, ?)",
            [(i, finished, finished) for i in ids],
        )
        connection.commit()
    connection.close()


def _remaining(db_file: Path) -> int:
    connection = sqlite3.connect(db_file)
    try:
        return connection.execute("SELECT count(*) FROM events WHERE type = 'old'").fetchone()[0]
    finally:
        connection.close()


def _set_retention(db_file: Path, client_id: int, days: int) -> None:
    connection = sqlite3.connect(db_file, timeout=30)
    connection.execute("UPDATE clients SET retention_days = ? WHERE id = ?", (days, client_id))
    connection.commit()
    connection.close()


def bench_ingest_during_purge(
    base: str, key: str, db_file: Path, client_id: int, events: int, rounds: int, batches: int
) -> tuple[float, float, int, int]:
    """Ingestion over HTTP in interleaved rounds: with nothing to purge (retention 30 days),
    and while ``events`` expired events with their deliveries (2 x ``events`` rows) are purged
    (retention 1 day).

    The purge runs in its own process, :func:`purge_worker`: the processor's own purge code,
    rounds back to back (its worst case). No processor runs, so the ingested events do not
    load either side differently: the rounds differ only by the purge.

    Returns (median events/s without, median events/s during, median ratio of paired rounds,
    events purged during the measured rounds, rounds during which the purge made progress)."""
    fill_finished(db_file, client_id, events, days_ago=2)  # kept while retention is 30 days
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "purge-worker", str(db_file)],
        cwd=ROOT,
        env=env_for(db_file),
    )
    offset = 50_000_000
    quiet, busy, purged, overlapped = [], [], 0, 0

    def without_purge(start: int) -> None:
        _set_retention(db_file, client_id, 30)
        time.sleep(0.8)  # the purge round in progress ends
        quiet.append(bench_ingest(base, key, batches, offset=start))

    def during_purge(start: int) -> None:
        nonlocal purged, overlapped
        _set_retention(db_file, client_id, 1)
        before = _remaining(db_file)
        deadline = time.monotonic() + 30
        while _remaining(db_file) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        left = _remaining(db_file)
        busy.append(bench_ingest(base, key, batches, offset=start))
        after = _remaining(db_file)
        purged += left - after
        overlapped += after < left and after > 0

    try:
        time.sleep(1.5)
        for index in range(rounds):  # alternate which comes first, against order effects
            start = offset + 2 * index * batches * BATCH
            first, second = (without_purge, during_purge)[:: 1 if index % 2 == 0 else -1]
            first(start)
            second(start + batches * BATCH)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    log(f"  rounds without: {', '.join(f'{v:,.0f}' for v in quiet)}")
    log(f"  rounds during:  {', '.join(f'{v:,.0f}' for v in busy)}")
    # Neighbours on a shared machine swing single rounds by x 5: compare each round with its
    # partner taken right next to it, and take the median of those ratios.
    paired = statistics.median(b / q for b, q in zip(busy, quiet, strict=True))
    return statistics.median(quiet), statistics.median(busy), paired, purged, overlapped


def bench_db_growth(
    db_file: Path, client_id: int, per_cycle: int, cycles: int = 3
) -> tuple[list[int], list[float]]:
    """Ingest ``per_cycle`` events, process them, age and purge them, ``cycles`` times; return
    the file size at each cycle's peak (after processing, WAL checkpointed) and the duration
    of every purge batch in ms."""
    from bench_setup import make_app

    app = make_app(db_file)
    size = int(app.config["RETENTION_BATCH_SIZE"])
    sizes: list[int] = []
    batch_ms: list[float] = []
    with app.app_context():
        for cycle in range(cycles):
            for start in range(0, per_cycle, BATCH):
                rows = event_rows(80_000_000 + cycle * per_cycle + start, BATCH)
                store_events(client_id, parse_events({"events": rows}, BATCH))
            while processor.tick(HOLDER).started:
                pass
            db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            db.session.commit()
            sizes.append(db_file.stat().st_size)
            db.session.execute(
                sa.text("UPDATE events SET processed_at = :old WHERE status = 'processed'"),
                {"old": utc_now() - timedelta(days=400)},
            )
            db.session.commit()
            cutoff = utc_now() - timedelta(days=30)
            assert lease.acquire(HOLDER)
            while True:  # the processor's batches, timed (each is one write transaction)
                started = time.perf_counter()
                done = retention.purge_batch(HOLDER, client_id, cutoff, size)
                batch_ms.append((time.perf_counter() - started) * 1000)
                if not done:
                    break
            retention.release_free_pages()
            log(f"  cycle {cycle + 1}: {sizes[-1] / 1e6:.1f} MB after ingest+process; purged")
        lease.release(HOLDER)
    return sizes, batch_ms


def bench_scrape(db_file: Path) -> tuple[float, int]:
    """Median time of a /metrics scrape (in-process) on this database, and the events stored
    (the scrape reads counters, never the rows, so it should not depend on them)."""
    from bench_setup import make_app

    app = make_app(db_file, METRICS_TOKEN="bench")
    http = app.test_client()
    times = []
    for _ in range(7):
        started = time.perf_counter()
        assert http.get("/metrics", headers={"Authorization": "Bearer bench"}).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    with app.app_context():
        stored = db.session.scalar(sa.text("SELECT count(*) FROM events"))
        db.engine.dispose()
    return statistics.median(times), stored


def run(folder: Path, gunicorn_for, quick: bool) -> dict:
    """Both retention measures on their own databases; return the benchmark keys."""
    results: dict = {}
    db_file = folder / "retention.db"
    _app, key, client_id = prepare(db_file)
    gunicorn, base = gunicorn_for(db_file)
    try:
        quiet, busy, ratio, purged, overlapped = bench_ingest_during_purge(
            base, key, db_file, client_id, 250_000, 8, 25 if quick else 50
        )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    scrape_ms, stored = bench_scrape(db_file)
    log(f"GET /metrics with {stored:,} events stored: median {scrape_ms:.1f} ms")
    results.update(metrics_scrape_ms=round(scrape_ms, 1), metrics_scrape_events_stored=stored)
    log(
        f"ingest while purging (250,000 expired events + their deliveries = 500,000 rows): "
        f"median {busy:,.0f} vs {quiet:,.0f} events/s without; median paired ratio x {ratio:.2f} "
        f"(purge progressed in {overlapped}/8 rounds, {purged:,} events purged meanwhile)"
    )
    results.update(
        ingest_during_purge_ratio=round(ratio, 3),
        ingest_during_purge_events_per_s=round(busy),
        ingest_without_purge_events_per_s=round(quiet),
        purge_rounds_overlapped=overlapped,
    )
    growth_file = folder / "growth.db"
    _app, _key, growth_client = prepare(growth_file)
    sizes, batch_ms = bench_db_growth(growth_file, growth_client, 200_000)
    growth = max(sizes[1:]) / sizes[0]
    batch_ms.sort()
    p99 = batch_ms[int(len(batch_ms) * 0.99)]
    log(f"db growth over 3 cycles of 200,000 events: x {growth:.3f} ({sizes})")
    log(
        f"purge batches ({len(batch_ms)}): median {statistics.median(batch_ms):.1f} ms, "
        f"p99 {p99:.1f} ms, max {batch_ms[-1]:.1f} ms of write lock each"
    )
    results.update(
        db_growth_after_cycles=round(growth, 3),
        purge_batch_p99_ms=round(p99, 1),
        purge_batch_max_ms=round(batch_ms[-1], 1),
    )
    return results


def purge_worker(db_file: Path) -> None:
    """Purge like the processor does, round after round, until terminated."""
    from bench_setup import make_app

    app = make_app(db_file)
    with app.app_context():
        assert lease.acquire(HOLDER)
        size = int(app.config["RETENTION_BATCH_SIZE"])
        budget = float(app.config["RETENTION_SECONDS_PER_TICK"])
        while True:
            lease.heartbeat(HOLDER)
            _purged, finished = retention.purge_expired(HOLDER, time.monotonic() + budget, size)
            if finished:
                time.sleep(0.1)


if __name__ == "__main__" and sys.argv[1:2] == ["purge-worker"]:
    purge_worker(Path(sys.argv[2]))
