"""Per-client counters kept exact inside each writing transaction.

Two kinds share the table: the queued and failed events *now* (named by the status), and what
finished so far, for ``/metrics`` (``ev:<status>`` events, ``dl:<status>`` deliveries and the
latency histogram ``lat:<bucket>`` with ``lat:ms``, its sum in milliseconds). Every path that
changes an event's status, finishes an event or a delivery, or deletes events calls :func:`add`
in its own transaction (ingestion and triggers through :func:`portal.events.bulk.insert_queued`,
processing, delivery outcomes, retry and replay, retention), and deleting a client deletes its
counters with it (foreign key cascade). Figures then cost one small grouped SUM whatever the
size of the tables.

Each change goes to one of ``SHARDS`` rows per (client, status), picked at random, so
concurrent ingestion on PostgreSQL does not queue on one row lock; SQLite serialises writers
anyway.
"""

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.events.bulk import _Compiled
from portal.extensions import db
from portal.models import Event
from portal.models.events import EVENT_FAILED, EVENT_PROCESSED, EVENT_QUEUED
from portal.models.tables import counters

SHARDS = 8
COUNTED = (EVENT_QUEUED, EVENT_FAILED)
# Delivery latency buckets: seconds from a delivery being created to it finishing.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
LATENCY_MS = "lat:ms"

Deltas = Mapping[tuple[int, str], int]  # (client id, status) -> change


def add(connection: sa.Connection, deltas: Deltas, *, shard: int | None = None) -> None:
    """Apply ``deltas`` in the connection's transaction (statuses not counted are ignored)."""
    rows = [
        {"client_id": client_id, "status": status, "count": delta}
        for (client_id, status), delta in sorted(deltas.items())
        if delta and (status in COUNTED or ":" in status)
    ]
    if not rows:
        return
    picked = random.randrange(SHARDS) if shard is None else shard
    statement = _upsert(connection.dialect)
    # Compiled once per dialect: ingestion runs this in every request.
    for row in rows:
        values = [row["client_id"], row["status"], picked, row["count"]]
        connection.exec_driver_sql(statement.sql, statement.params(values))


@lru_cache(maxsize=8)
def _upsert(dialect: sa.Dialect) -> _Compiled:
    names = ["client_id", "status", "shard", "count"]
    insert = (postgresql if dialect.name == "postgresql" else sqlite).insert(counters)
    statement = insert.values({name: sa.bindparam(name) for name in names}).on_conflict_do_update(
        index_elements=[counters.c.client_id, counters.c.status, counters.c.shard],
        set_={"count": counters.c.count + insert.excluded["count"]},
    )
    return _Compiled(statement, dialect, names)


def moves(transitions: Iterable[tuple[int, str, str]]) -> Counter:
    """Return the deltas of events moving (client id, from status, to status)."""
    deltas: Counter = Counter()
    for client_id, before, after in transitions:
        if before != after:
            deltas[(client_id, before)] -= 1
            deltas[(client_id, after)] += 1
    return deltas


def finished_event(status: str) -> str:
    """The counter of events that finished with ``status`` (each finish, replays included)."""
    return f"ev:{status}"


def finished_delivery(status: str) -> str:
    """The counter of deliveries that finished with ``status`` (each finish)."""
    return f"dl:{status}"


def latency_bucket(index: int) -> str:
    return f"lat:{index}"


def bucket_index(seconds: float) -> int:
    """Return the index of the first latency bucket that holds ``seconds`` (last: +Inf)."""
    for index, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            return index
    return len(LATENCY_BUCKETS)


def events_finished(deltas: Counter, client_id: int, status: str, number: int = 1) -> None:
    """Count ``number`` events of the client finishing with ``status`` into ``deltas``."""
    deltas[(client_id, EVENT_QUEUED)] -= number
    deltas[(client_id, status)] += number
    deltas[(client_id, finished_event(status))] += number


def deliveries_finished(
    deltas: Counter, client_id: int, status: str, seconds: float, number: int = 1
) -> None:
    """Count ``number`` deliveries finishing with ``status`` after ``seconds`` into ``deltas``."""
    seconds = max(seconds, 0.0)
    deltas[(client_id, finished_delivery(status))] += number
    deltas[(client_id, latency_bucket(bucket_index(seconds)))] += number
    deltas[(client_id, LATENCY_MS)] += number * round(seconds * 1000)


def figures(client_ids: list[int], names: Iterable[str] = COUNTED) -> dict[int, dict[str, int]]:
    """Return {client id: {name: n}} of these counters (zero when absent)."""
    names = list(names)
    result = {cid: dict.fromkeys(names, 0) for cid in client_ids}
    if not client_ids:
        return result
    rows = db.session.execute(
        sa.select(counters.c.client_id, counters.c.status, sa.func.sum(counters.c.count))
        .where(counters.c.client_id.in_(client_ids), counters.c.status.in_(names))
        .group_by(counters.c.client_id, counters.c.status)
    )
    for client_id, status, total in rows:
        result[client_id][status] = int(total or 0)
    return result


RECENT_WINDOW = timedelta(minutes=5)


def client_counts(client_ids: list[int], paused: bool, now: datetime) -> dict[int, dict[str, int]]:
    """Return queued, held, processed (last 5 minutes) and failed counts per client id."""
    counts = {cid: {"queued": 0, "held": 0, "processed_5m": 0, "failed": 0} for cid in client_ids}
    for client_id, counted in figures(client_ids).items():
        counts[client_id].update(counted)
    recent = db.session.execute(
        sa.select(Event.client_id, sa.func.count())
        .where(
            Event.client_id.in_(client_ids),
            Event.processed_at >= now - RECENT_WINDOW,
            Event.status == EVENT_PROCESSED,
        )
        .group_by(Event.client_id)
    )
    for client_id, number in recent:
        counts[client_id]["processed_5m"] = number
    if paused:  # everything queued is held until the restriction is lifted
        for counted in counts.values():
            counted["held"] = counted["queued"]
    return counts
