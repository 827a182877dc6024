"""The webhook pump: claims due deliveries per endpoint, keeps calls in flight, records outcomes.

It owns the concurrency: one asyncio loop on its own thread (:meth:`Pump.start`), one HTTP
session with at most ``WEBHOOK_CONCURRENCY`` calls in flight, the lanes that share them fairly
(:mod:`.slots`), and one database thread that claims and records in batches, so neither the
calls nor the event batches and triggers ever wait for each other.

The restriction is read fresh from the database on the loop, by the connector, once each
connection is ready and right before its request is written: after a save that turns it on
has committed, no call starts; calls already sent finish and are recorded.
"""

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from portal.clock import utc_now
from portal.events import lease
from portal.events.actions import ACTION_WEBHOOK, webhook_body
from portal.events.guard import restriction_on
from portal.events.tables import deliveries, events, workflows
from portal.events.webhooks import outcomes, signing, transport
from portal.events.webhooks.slots import Item, Lane, Slots
from portal.extensions import db
from portal.maintenance import FLAGS
from portal.models.events import DELIVERY_PENDING

log = logging.getLogger(__name__)
FLUSH_ROWS = 200
FLUSH_SECONDS = 0.1
POLL_SECONDS = 0.25
DRY_SECONDS = 0.2  # a lane whose refill found nothing asks again after this
ORPHAN_SECONDS = 5.0


@dataclass(frozen=True)
class LaneConfig:
    workflow_id: int
    url: str
    key: bytes
    cap: int | None
    rate: float | None


@dataclass
class Refill:
    allowed: bool  # False: restricted or not the lease holder
    lanes: list[LaneConfig]
    items: dict[int, list[Item]]
    dry: set[int]


class Pump:
    """Webhook calls of one processor (``holder``) against one app's database."""

    def __init__(self, app: Flask, holder: str) -> None:
        config = app.config
        self.app = app
        self.holder = holder
        self.timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
        self.claim = timedelta(
            seconds=self.timeout + float(config["PROCESSOR_LEASE_TTL_SECONDS"]) + 5
        )
        self.slots = Slots(int(config["WEBHOOK_CONCURRENCY"]))
        self.stopping = threading.Event()
        self.owned: set[int] = set()
        self.results: list[outcomes.Result] = []
        self._thread: threading.Thread | None = None
        self._db = ThreadPoolExecutor(1, thread_name_prefix="webhook-db")
        self._gate_connection: sa.Connection | None = None
        self._orphans_at = 0.0
        self._holding = False  # database thread: whether we held the lease at the last refill
        self._gate_waiters: list[asyncio.Future] = []
        self._unsent: list[Item] = []  # claimed but not sent: made due again by the next round

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run the pump on its own thread until :meth:`stop`."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.run()), name="webhook-pump", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Start no call, let the calls in flight finish and record them, release the rest."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 10)

    def drain(self) -> None:
        """Make every due call (retries that come due meanwhile included), then return."""
        asyncio.run(self.run(until_idle=True))

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, *, until_idle: bool = False) -> None:
        """Dispatch calls while the database thread records and claims in the background."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        with self.app.app_context():
            engine = db.engine
        self._gate_connection = engine.connect()
        compiled = FLAGS.compile(dialect=engine.dialect)
        self._gate_sql = compiled.string
        params = compiled.construct_params()
        self._gate_params = (
            tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
        )
        session = transport.new_session(self.slots.concurrency, self._gate)
        tasks: set[asyncio.Task] = set()
        db_round: asyncio.Task | None = None
        flushed = refreshed = -1.0
        found = 1  # what the last claim found (0: nothing due; 1: unknown, ask again)
        try:
            while not self.stopping.is_set():
                now = loop.time()
                if db_round is not None and db_round.done():
                    found = self._round_result(db_round)
                    db_round = None
                if db_round is None:
                    flush = bool(self.results) and (
                        len(self.results) >= FLUSH_ROWS
                        or now - flushed >= FLUSH_SECONDS
                        or not tasks
                    )
                    wants = self._wants(now)
                    refill = bool(wants) or now - refreshed >= (
                        1.0 if self.slots.lanes else POLL_SECONDS
                    )
                    if flush or refill or self._unsent:
                        batch: list = []
                        if flush:
                            batch, self.results, flushed = self.results, [], now
                        if refill:
                            refreshed = now
                        db_round = asyncio.create_task(
                            self._db_round(batch, wants if refill else None)
                        )
                        db_round.add_done_callback(lambda _task: wake.set())
                while (picked := self.slots.take()) is not None:
                    task = asyncio.create_task(self._call(session, *picked, wake))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                idle = not (tasks or self.results or self.slots.queued() or db_round)
                if until_idle and idle and found <= 0:
                    break
                wake.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._pause(loop.time(), bool(tasks)))
        finally:
            if db_round is not None:
                await asyncio.gather(db_round, return_exceptions=True)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self._unsent += [item for lane in self.slots.lanes.values() for item in lane.queue]
            await self._in_db(self._finish, self.results, self._unsent)
            self.results, self._unsent = [], []
            await session.close()
            self._gate_connection.close()

    def _round_result(self, task: asyncio.Task) -> int:
        try:
            return task.result()
        except Exception:  # keep pumping; the claimed rows come due again after their claim
            log.exception("Webhook pump: a database round failed")
            return 1

    async def _db_round(self, batch: list, wants: dict[int, int] | None) -> int:
        """Record ``batch``, release unsent items and (with ``wants``) claim more, in one hop
        to the database thread; return how many were claimed (1 when not asked)."""
        unsent, self._unsent = self._unsent, []
        known, owned = set(self.slots.lanes), frozenset(self.owned)

        def work() -> Refill | None:
            if batch:
                outcomes.record(batch)
            if unsent:
                outcomes.release(unsent)
            return None if wants is None else self._claim(wants, known, owned)

        refill = await self._in_db(work)
        return 1 if refill is None else self._apply(refill)

    def _pause(self, now: float, busy: bool) -> float:
        waits = [POLL_SECONDS]
        if self.results:
            waits.append(FLUSH_SECONDS)
        ready = self.slots.next_ready(now)
        if ready is not None:
            waits.append(ready - now)
        dry = [ln.dry_until - now for ln in self.slots.lanes.values() if ln.dry_until > now]
        if dry and not busy:
            waits.append(min(dry))
        return max(0.001, min(waits))

    async def _call(self, session, lane: Lane, item: Item, wake: asyncio.Event) -> None:
        message_id = str(item.delivery_id)
        headers = signing.headers(lane.key, message_id, int(time.time()), item.body)
        outcome = await transport.post(session, lane.url, item.body, headers, self.timeout)
        self.slots.done(lane, sent=not outcome.held, ok=outcome.ok, slow=outcome.slow)
        self.owned.discard(item.delivery_id)
        self.results.append(outcomes.Result(lane.workflow_id, item, outcome))
        wake.set()

    async def _gate(self, _peer: tuple | None) -> None:
        """Refuse to send while the restriction is on.

        Every call waits for a read of the restriction that starts after it asked (a fresh
        read, on the loop thread); the calls that ask in the same loop turn share one read.
        """
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._gate_waiters.append(waiter)
        if len(self._gate_waiters) == 1:
            loop.call_soon(self._read_restriction)
        if await waiter:
            raise transport.Held("the processor restriction is on")

    def _read_restriction(self) -> None:
        waiters, self._gate_waiters = self._gate_waiters, []
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
        raw = self._gate_connection.connection.driver_connection
        cursor = raw.cursor()
        try:
            cursor.execute(self._gate_sql, self._gate_params)
            row = cursor.fetchone()
        finally:
            cursor.close()
            raw.rollback()  # the next read starts a new transaction and sees new commits
        return bool(row and row[0] and row[1])

    # -- lanes and refills -------------------------------------------------------------------
    def _wants(self, now: float) -> dict[int, int]:
        """Return {workflow id: how many to claim} for lanes below their low-water mark."""
        wants = {}
        for lane in self.slots.lanes.values():
            room = self.slots.room(lane)
            if lane.dry_until <= now and len(lane.queue) < self.slots.limit(lane) and room:
                wants[lane.workflow_id] = room
        return wants

    def _apply(self, refill: Refill) -> int:
        """Take a claim's result into the lanes (loop thread); return how many items came."""
        now = time.monotonic()
        if not refill.allowed:  # restricted or not the holder: give back what is queued
            for lane in self.slots.lanes.values():
                self._give_back(list(lane.queue))
                lane.queue.clear()
                lane.dry_until = now + DRY_SECONDS
            return -1
        configured = {config.workflow_id for config in refill.lanes}
        for wid in set(self.slots.lanes) - configured:  # paused, deleted or changed action
            self._give_back(self.slots.drop(wid))
        for config in refill.lanes:
            lane = self.slots.lane(config.workflow_id)
            lane.url, lane.key = config.url, config.key
            lane.cap, lane.rate = config.cap, config.rate
        found = 0
        for wid, items in refill.items.items():
            self.slots.lanes[wid].queue.extend(items)
            self.owned.update(item.delivery_id for item in items)
            found += len(items)
        for wid in refill.dry:
            self.slots.lanes[wid].dry_until = now + DRY_SECONDS
        return found

    def _give_back(self, items: list[Item]) -> None:
        self.owned.difference_update(item.delivery_id for item in items)
        self._unsent.extend(items)

    def _claim(self, wants: dict[int, int], known: set[int], owned: frozenset[int]) -> Refill:
        """Claim due deliveries lane by lane (database thread); commits."""
        if lease.live_holder() != self.holder:
            self._holding = False
            db.session.rollback()
            return Refill(False, [], {}, set())
        now = utc_now()
        if not self._holding:  # we just took the lease: every claim left is a dead processor's
            outcomes.release_stale_claims(now)
            self._holding = True
        if restriction_on():
            db.session.rollback()
            return Refill(False, [], {}, set())
        lanes = _lane_configs()
        claimed: dict[int, list[Item]] = {}
        dry: set[int] = set()
        for config in lanes:
            wid = config.workflow_id
            room = wants.get(wid, 0) if wid in known else 2 * int(self.slots.limit(Lane(wid)))
            if room <= 0:
                continue
            items = [item for item in _due(wid, now, room) if item.delivery_id not in owned]
            if items:
                db.session.execute(
                    sa.update(deliveries)
                    .where(deliveries.c.id.in_([item.delivery_id for item in items]))
                    .values(next_attempt_at=now + self.claim, claimed_until=now + self.claim)
                )
                claimed[wid] = items
            else:
                dry.add(wid)
        if time.monotonic() >= self._orphans_at:
            self._orphans_at = time.monotonic() + ORPHAN_SECONDS
            _fail_orphans(now)
        db.session.commit()
        return Refill(True, lanes, claimed, dry)

    def _finish(self, results: list, unsent: list[Item]) -> None:
        if results:
            outcomes.record(results)
        outcomes.release(unsent)

    async def _in_db(self, function, *args):
        def run():
            with self.app.app_context():
                try:
                    return function(*args)
                except Exception:
                    db.session.rollback()
                    raise

        return await asyncio.get_running_loop().run_in_executor(self._db, run)


def _lane_configs() -> list[LaneConfig]:
    rows = db.session.execute(
        sa.select(
            workflows.c.id,
            workflows.c.url,
            workflows.c.secret,
            workflows.c.max_in_flight,
            workflows.c.rate_limit,
        )
        .where(
            workflows.c.action == ACTION_WEBHOOK,
            workflows.c.url != "",
            workflows.c.paused_at.is_(None),
        )
        .order_by(workflows.c.id)
    )
    return [
        LaneConfig(
            row.id,
            row.url,
            signing.secret_key(row.secret or "") or (row.secret or "").encode(),
            row.max_in_flight,
            row.rate_limit,
        )
        for row in rows
    ]


def _due(workflow_id: int, now, limit: int) -> list[Item]:
    rows = db.session.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.event_id,
            deliveries.c.attempts,
            events.c.client_id,
            events.c.type,
            events.c.payload,
            events.c.source_id,
            events.c.received_at,
        )
        .select_from(deliveries.join(events, deliveries.c.event_id == events.c.id))
        .where(
            deliveries.c.workflow_id == workflow_id,
            deliveries.c.status == DELIVERY_PENDING,
            deliveries.c.next_attempt_at <= now,
        )
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    )
    return [
        Item(
            row.id,
            row.event_id,
            row.client_id,
            row.attempts,
            webhook_body(
                {
                    "id": row.event_id,
                    "type": row.type,
                    "payload": row.payload,
                    "source_id": row.source_id,
                    "received_at": row.received_at,
                },
                row.id,
            ),
        )
        for row in rows
    ]


def _fail_orphans(now) -> None:
    """Fail pending deliveries whose workflow was deleted or no longer calls a webhook."""
    gone = db.session.scalars(
        sa.select(workflows.c.id).where(
            sa.or_(workflows.c.action != ACTION_WEBHOOK, workflows.c.url == "")
        )
    ).all()
    rows = db.session.execute(
        sa.select(deliveries.c.id, deliveries.c.event_id, deliveries.c.attempts, events.c.client_id)
        .select_from(deliveries.join(events, deliveries.c.event_id == events.c.id))
        .where(
            deliveries.c.status == DELIVERY_PENDING,
            sa.or_(deliveries.c.workflow_id.is_(None), deliveries.c.workflow_id.in_(gone)),
        )
        .limit(FLUSH_ROWS)
    ).all()
    if rows:
        outcomes.fail_orphans(rows, now)
