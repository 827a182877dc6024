"""Queued and failed events per client, as counters kept exact inside each writing transaction.

Every path that changes an event's status or deletes events calls :func:`add` in its own
transaction (ingestion, processing, delivery outcomes, retry and replay, retention), and
deleting a client deletes its counters with it (foreign key cascade). Figures then cost one
small grouped SUM whatever the size of the backlog.

Each change goes to one of ``SHARDS`` rows per (client, status), picked at random, so
concurrent ingestion on PostgreSQL does not queue on one row lock; SQLite serialises writers
anyway.
"""

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.events.bulk import _Compiled
from portal.events.tables import counters
from portal.extensions import db
from portal.models.events import EVENT_FAILED, EVENT_QUEUED

SHARDS = 8
COUNTED = (EVENT_QUEUED, EVENT_FAILED)

Deltas = Mapping[tuple[int, str], int]  # (client id, status) -> change


def add(connection: sa.Connection, deltas: Deltas, *, shard: int | None = None) -> None:
    """Apply ``deltas`` in the connection's transaction (statuses not counted are ignored)."""
    rows = [
        {"client_id": client_id, "status": status, "count": delta}
        for (client_id, status), delta in sorted(deltas.items())
        if delta and status in COUNTED
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


def figures(client_ids: list[int]) -> dict[int, dict[str, int]]:
    """Return {client id: {"queued": n, "failed": n}} from the counters."""
    result = {cid: dict.fromkeys(COUNTED, 0) for cid in client_ids}
    if not client_ids:
        return result
    rows = db.session.execute(
        sa.select(counters.c.client_id, counters.c.status, sa.func.sum(counters.c.count))
        .where(counters.c.client_id.in_(client_ids))
        .group_by(counters.c.client_id, counters.c.status)
    )
    for client_id, status, total in rows:
        result[client_id][status] = int(total or 0)
    return result
