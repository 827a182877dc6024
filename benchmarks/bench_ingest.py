"""Durable batch ingestion over HTTP, and the two baselines of the same rows."""

import json
import sqlite3
import threading
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

from bench_setup import BATCH, event_rows

from portal.core.clock import utc_now


def post_batches(base: str, key: str, bodies: list[bytes], threads: int) -> tuple[int, float]:
    """POST the pre-encoded batches from ``threads`` clients; return (events accepted, wall time).

    The clients share the machine with the server, so they are kept cheap: bodies encoded
    beforehand, one ``http.client`` connection per thread (reopened when the server closes it).
    Only events acknowledged by a 202 count; anything else fails the run.
    """
    address = urlsplit(base)
    queue = list(reversed(bodies))
    lock = threading.Lock()
    accepted: list[int] = []
    errors: list[str] = []
    headers = {"X-API-Key": key, "Content-Type": "application/json"}

    def worker() -> None:
        http = HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                http.request("POST", "/api/v1/events", body=body, headers=headers)
                response = http.getresponse()
                answer = response.read()
                if response.status != 202:
                    errors.append(f"{response.status} {answer[:200]!r}")
                    continue
                result = json.loads(answer)
                accepted.append(result["accepted"] + result["duplicates"])
        finally:
            http.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"ingestion errors: {errors[:5]}")
    return sum(accepted), elapsed


def bench_ingest(base: str, key: str, batches: int, offset: int, threads: int = 4) -> float:
    """POST ``batches`` requests of 1000 fresh events from ``threads`` clients; return the
    events durably accepted (202, committed before the answer) per second of wall time."""
    bodies = [
        json.dumps({"events": event_rows(offset + i * BATCH, BATCH)}).encode()
        for i in range(batches)
    ]
    post_batches(base, key, bodies[:2], 2)  # warm the workers up (not counted)
    events, elapsed = post_batches(base, key, bodies[2:], threads)
    return events / elapsed


def bench_persist_queue(folder: Path, count: int) -> float:
    """Put the same rows one by one into a persist-queue SQLiteAckQueue (each put commits)."""
    from persistqueue import SQLiteAckQueue

    queue = SQLiteAckQueue(str(folder), auto_commit=True, multithreading=True)
    rows = event_rows(0, count)
    started = time.perf_counter()
    for row in rows:
        queue.put(row)
    return count / (time.perf_counter() - started)


def bench_raw_sqlite(path: Path, count: int) -> float:
    """Insert the same rows with ``sqlite3.executemany``, 1000 per transaction (the ceiling)."""
    connection = sqlite3.connect(path)
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
