"""The restriction check right before a webhook request is written.

Every call waits for a read of the restriction that starts after it asked (fresh from the
database, on the pump's loop thread); the calls that ask in the same loop turn share one read,
so checking costs a few reads per second instead of one per call.
"""

import asyncio
import logging

import sqlalchemy as sa

from portal.events.webhooks.transport import Held
from portal.maintenance import FLAGS

log = logging.getLogger(__name__)


class RestrictionGate:
    """``await gate(peer)`` raises :class:`Held` while the processor restriction is on."""

    def __init__(self, engine: sa.Engine) -> None:
        self._connection = engine.connect()
        compiled = FLAGS.compile(dialect=engine.dialect)
        params = compiled.construct_params()
        self._sql = compiled.string
        self._params = (
            tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
        )
        self._waiters: list[asyncio.Future] = []

    async def __call__(self, _peer: tuple | None) -> None:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        if len(self._waiters) == 1:
            loop.call_soon(self._read)
        if await waiter:
            raise Held("the processor restriction is on")

    def close(self) -> None:
        self._connection.close()

    def _read(self) -> None:
        waiters, self._waiters = self._waiters, []
        try:
            restricted = self._restricted_now()
        except Exception:  # cannot tell: send nothing, the calls are held and retried
            log.exception("Webhook pump: reading the restriction failed")
            restricted = True
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(restricted)

    def _restricted_now(self) -> bool:
        # The driver's own cursor with the statement compiled once (hot path).
        raw = self._connection.connection.driver_connection
        cursor = raw.cursor()
        try:
            cursor.execute(self._sql, self._params)
            row = cursor.fetchone()
        finally:
            cursor.close()
            raw.rollback()  # the next read starts a new transaction and sees new commits
        return bool(row and row[0] and row[1])
