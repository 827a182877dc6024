"""The ingestion statements, compiled once per dialect and size and run with plain values.

SQLAlchemy's executemany path processes every parameter set in Python, which costs about as
much as SQLite's own work for small events. These statements are still built with Core and
compiled by the bound dialect (so they run on SQLite and PostgreSQL alike), but only once per
shape; each request then hands the driver one flat list of values per statement.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter

import sqlalchemy as sa

from portal.models.events import EVENT_QUEUED
from portal.models.tables import events

# Powers of two, so a batch of any size needs at most a handful of statement shapes, and
# small enough that a statement stays under SQLite's historic limit of 999 parameters.
INSERT_ROWS = 256
LOOKUP_KEYS = 512
ROW_FIELDS = ("type", "payload", "source_id")
SHARED_FIELDS = ("client_id", "received_at", "status", "attempts")

Row = tuple[str, str, str | None]  # type, payload serialised as JSON, source_id


class _Compiled:
    """A compiled statement and how to pick its parameters out of a flat list of values.

    ``names`` gives the meaning of each slot of that list; a positional dialect gets the
    slots in statement order (one C-level ``itemgetter`` call), a named one a dict.
    """

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect, names: list[str]):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = names
        self.pick = None
        if compiled.positional:
            slot = {name: index for index, name in enumerate(names)}
            self.pick = itemgetter(*(slot[name] for name in compiled.positiontup or ()))

    def params(self, values: list) -> tuple | dict:
        return self.pick(values) if self.pick else dict(zip(self.names, values, strict=True))


@lru_cache(maxsize=64)
def _insert(dialect: sa.Dialect, size: int) -> _Compiled:
    shared = {name: sa.bindparam(name, type_=events.c[name].type) for name in SHARED_FIELDS}
    names = list(SHARED_FIELDS)
    rows = []
    for n in range(size):
        own = {
            field: sa.bindparam(f"{field}_{n}", type_=events.c[field].type) for field in ROW_FIELDS
        }
        names.extend(param.key for param in own.values())
        rows.append(shared | own)
    return _Compiled(sa.insert(events).values(rows).returning(events.c.id), dialect, names)


@lru_cache(maxsize=64)
def _lookup(dialect: sa.Dialect, size: int) -> _Compiled:
    names = ["client_id"] + [f"source_id_{n}" for n in range(size)]
    query = sa.select(events.c.source_id, events.c.id).where(
        events.c.client_id == sa.bindparam("client_id", type_=sa.Integer),
        events.c.source_id.in_([sa.bindparam(name) for name in names[1:]]),
    )
    return _Compiled(query, dialect, names)


@lru_cache(maxsize=8)
def _timestamp_processor(dialect: sa.Dialect):
    """Return how the dialect stores ``received_at`` (SQLite: a string; None: as it is)."""
    column_type = events.c.received_at.type
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _sizes(count: int, largest: int) -> list[int]:
    """Split ``count`` into powers of two, largest first (1000 -> 256, 256, 256, 128, ...)."""
    sizes = [largest] * (count // largest)
    rest, size = count % largest, largest
    while rest:
        size //= 2
        if rest >= size:
            sizes.append(size)
            rest -= size
    return sizes


def insert_events(
    connection: sa.Connection, client_id: int, received_at: datetime, rows: Sequence[Row]
) -> list[int]:
    """Insert queued events in the connection's transaction; return their ids, ascending."""
    dialect = connection.dialect
    to_db = _timestamp_processor(dialect)
    shared = [client_id, to_db(received_at) if to_db else received_at, EVENT_QUEUED, 0]
    ids: list[int] = []
    start = 0
    for size in _sizes(len(rows), INSERT_ROWS):
        statement = _insert(dialect, size)
        values = shared + [value for row in rows[start : start + size] for value in row]
        result = connection.exec_driver_sql(statement.sql, statement.params(values))
        ids.extend(result.scalars().all())
        start += size
    # Ids of one transaction grow in insertion order (SQLite holds the write lock, PostgreSQL
    # draws from the sequence row by row), so sorted ids line up with ``rows``.
    ids.sort()
    return ids


def existing_ids(
    connection: sa.Connection, client_id: int, source_ids: Sequence[str]
) -> dict[str, int]:
    """Return {source_id: event id} of the client's stored events among ``source_ids``."""
    found: dict[str, int] = {}
    for start in range(0, len(source_ids), LOOKUP_KEYS):
        chunk = list(source_ids[start : start + LOOKUP_KEYS])
        size = 1 << (len(chunk) - 1).bit_length()  # pad to a power of two: few shapes
        chunk += chunk[-1:] * (size - len(chunk))
        statement = _lookup(connection.dialect, size)
        values = [client_id, *chunk]
        found.update(connection.exec_driver_sql(statement.sql, statement.params(values)).all())
    return found
