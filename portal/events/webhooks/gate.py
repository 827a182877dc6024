"""The restriction check right before a webhook request is written.

Every call waits for a read of the restriction that starts after it asked (fresh from the
database, on the pump's loop thread); the calls that ask in the same loop turn share one read,
so checking costs a few reads per second instead of one per call. What counts as restricted is
:func:`portal.models.maintenance.restricted_at`, the definition every reader uses: a scheduled
start holds the calls from its time on, before any process has applied it.

The gate reads over a connection of its own (from a pool of its own with the app's connection
settings, so it never takes one of the app's). When a read fails (the server restarted, a
failover, a proxy cut the connection) the connection is dropped and a new one is opened on a
thread of the gate, after 0.1 s, then twice as long after each failure, up to 5 s. Until it
reads again every call is held (never sent: it comes due again) and :mod:`.health` says so.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events.webhooks import health
from portal.events.webhooks.transport import Held
from portal.maintenance import FLAGS
from portal.models.maintenance import restricted_at

log = logging.getLogger(__name__)
FIRST_RETRY_SECONDS = 0.1
LAST_RETRY_SECONDS = 5.0
# PostgreSQL: the name pg_stat_activity shows for the gate's backend
APPLICATION_NAME = "portal-webhook-gate"


class RestrictionGate:
    """``await gate(peer)`` raises :class:`Held` while the processor restriction holds, or
    while the restriction cannot be read. Create it on the loop that awaits it."""

    def __init__(self, engine: sa.Engine, on_readable: Callable[[], None] | None = None) -> None:
        dialect = engine.dialect
        compiled = FLAGS.compile(dialect=dialect)
        params = compiled.construct_params()
        self._sql = compiled.string
        self._params = (
            tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
        )
        # The driver's own cursor skips SQLAlchemy's result types: SQLite answers the start
        # time as text, so it goes through the column type's own conversion.
        start = FLAGS.selected_columns.scheduled_start.type.dialect_impl(dialect)
        self._to_datetime = start.result_processor(dialect, None) or (lambda value: value)
        self._postgres = dialect.name == "postgresql"
        self._pool = engine.pool.recreate()
        self._loop = asyncio.get_running_loop()
        self._opener = ThreadPoolExecutor(1, thread_name_prefix="webhook-gate")
        self._on_readable = on_readable
        self._waiters: list[asyncio.Future] = []
        self._connection = None
        self._delay = FIRST_RETRY_SECONDS
        self._reconnecting: asyncio.TimerHandle | bool = False
        self._closed = False
        try:
            self._connection = self._open()
        except Exception as exc:
            self._failed(exc)

    @property
    def readable(self) -> bool:
        """Whether the gate has a connection that read the restriction last time it tried."""
        return self._connection is not None

    async def __call__(self, _peer: tuple | None) -> None:
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        if len(self._waiters) == 1:
            self._loop.call_soon(self._read)
        if await waiter:
            raise Held("the processor restriction is on, or cannot be read")

    def close(self) -> None:
        self._closed = True
        if isinstance(self._reconnecting, asyncio.TimerHandle):
            self._reconnecting.cancel()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._pool.dispose()
        self._opener.shutdown(wait=False)
        health.recovered(self)

    # -- reading (loop thread) ---------------------------------------------------------------
    def _read(self) -> None:
        waiters, self._waiters = self._waiters, []
        restricted = True  # cannot tell: send nothing, the calls are held and come due again
        if self._connection is not None:
            try:
                restricted = self._restricted_now(self._connection)
            except Exception as exc:
                log.warning("Webhook pump: reading the restriction failed, calls are held: %s", exc)
                with suppress(Exception):
                    self._connection.invalidate()
                self._connection = None
                self._failed(exc)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(restricted)

    def _restricted_now(self, connection) -> bool:
        # The driver's own cursor with the statement compiled once (hot path).
        raw = connection.driver_connection
        cursor = raw.cursor()
        try:
            cursor.execute(self._sql, self._params)
            row = cursor.fetchone()
        finally:
            cursor.close()
            raw.rollback()  # the next read starts a new transaction and sees new commits
        if row is None:
            return False
        return restricted_at(row[0], row[1], self._to_datetime(row[2]), utc_now())

    # -- reconnecting ------------------------------------------------------------------------
    def _open(self):
        """Open a connection and read through it once (on the gate's thread, or at start)."""
        connection = self._pool.connect()
        try:
            if self._postgres:
                raw = connection.driver_connection
                with raw.cursor() as cursor:
                    cursor.execute(f"SET application_name = '{APPLICATION_NAME}'")
                raw.commit()
            self._restricted_now(connection)
            if self._closed:
                raise RuntimeError("the gate was closed meanwhile")
        except BaseException:
            with suppress(Exception):
                connection.invalidate()
            raise
        return connection

    def _failed(self, exc: Exception) -> None:
        health.failed(self, utc_now(), f"{type(exc).__name__}: {exc}".strip()[:500])
        if not self._closed and not self._reconnecting:
            self._reconnecting = self._loop.call_later(self._delay, self._reconnect)
            self._delay = min(2 * self._delay, LAST_RETRY_SECONDS)

    def _reconnect(self) -> None:
        self._reconnecting = True
        attempt = self._loop.run_in_executor(self._opener, self._open)
        attempt.add_done_callback(self._reconnected)

    def _reconnected(self, attempt: asyncio.Future) -> None:
        self._reconnecting = False
        if attempt.cancelled():
            return
        exc = attempt.exception()
        if self._closed:
            if exc is None:
                attempt.result().close()
            return
        if exc is not None:
            log.warning("Webhook pump: still cannot read the restriction: %s", exc)
            self._failed(exc)
            return
        self._connection, self._delay = attempt.result(), FIRST_RETRY_SECONDS
        health.recovered(self)
        log.info("Webhook pump: reading the restriction again; calls resume")
        if self._on_readable is not None:
            self._on_readable()
