"""The webhook pump: claims due deliveries per endpoint, keeps calls in flight, records outcomes.

It owns the concurrency: one asyncio loop on its own thread (:meth:`Pump.start`), one HTTP
session with at most ``WEBHOOK_CONCURRENCY`` calls in flight, the lanes that share them fairly
(:mod:`.slots`), and one database thread that claims and records in batches, so neither the
calls nor the event batches and triggers ever wait for each other.

The restriction is read fresh from the database on the loop, by the connector, once each
connection is ready and right before its request is written: after a save that turns it on
has committed, no call starts; calls already sent finish and are recorded. While the gate
cannot read it (:mod:`.gate` reconnects with backoff) the pump claims nothing, holds what it
had queued, and a drain waits for the gate instead of returning with calls still due.
"""

import asyncio
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta

from flask import Flask

from portal.events.webhooks import outcomes, signing, transport
from portal.events.webhooks.claims import DRY_SECONDS, Claimer, Refill
from portal.events.webhooks.gate import RestrictionGate
from portal.events.webhooks.slots import Item, Lane, Slots
from portal.extensions import db

log = logging.getLogger(__name__)
FLUSH_ROWS = 500
FLUSH_SECONDS = 0.25
POLL_SECONDS = 0.25


class Pump:
    """Webhook calls of one processor (``holder``) against one app's database."""

    def __init__(self, app: Flask, holder: str) -> None:
        config = app.config
        self.app = app
        self.holder = holder
        self.timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
        # A claim outlives any call of ours; a successor releases a dead holder's claims.
        claim = timedelta(seconds=self.timeout + float(config["PROCESSOR_LEASE_TTL_SECONDS"]) + 5)
        self.slots = Slots(int(config["WEBHOOK_CONCURRENCY"]))
        self.stopping = threading.Event()
        self.owned: set[int] = set()
        self.results: list[outcomes.Result] = []
        # calls on the wire per client, read by the history sampler from the tick's thread
        self._calls: Counter = Counter()
        self._calls_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._db = ThreadPoolExecutor(1, thread_name_prefix="webhook-db")
        self._claimer = Claimer(holder, claim, 2 * self.slots.limit(Lane(0)))
        self._unsent: list[Item] = []  # claimed but not sent: made due again by the next round
        self._refreshed = -1.0  # loop time of the last claim
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

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

    def nudge(self) -> None:
        """Claim again now (from any thread): the processor just started events or the
        restriction was lifted, so new deliveries may be due."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(self._nudged)

    def _nudged(self) -> None:
        self._refreshed = -1.0
        for lane in self.slots.lanes.values():
            lane.dry_until = 0.0
        if self._wake is not None:
            self._wake.set()

    def drain(self) -> None:
        """Make every due call (retries that come due meanwhile included), then return.

        Runs on a thread of its own, so callers that already run an event loop can use it.
        """
        failure: list[BaseException] = []

        def work() -> None:
            try:
                asyncio.run(self.run(until_idle=True))
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=work, name="webhook-drain")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, *, until_idle: bool = False) -> None:
        """Dispatch calls while the database thread records and claims in the background."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        self._loop, self._wake = loop, wake
        with self.app.app_context():
            # a gate that reads again after an outage sends the held calls at once
            self._restriction = RestrictionGate(db.engine, on_readable=self._nudged)
        allowed = self.app.config.get("WEBHOOK_ALLOWED_NETWORKS_PARSED", ())
        session = transport.new_session(self.slots.concurrency, self._gate, allowed)
        tasks: set[asyncio.Task] = set()
        db_round: asyncio.Task | None = None
        flushed = -1.0
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
                    # nothing is claimed while the gate cannot read: it would only be held
                    refill = self._restriction.readable and (
                        bool(wants)
                        or now - self._refreshed >= (1.0 if self.slots.lanes else POLL_SECONDS)
                    )
                    if flush or refill or self._unsent:
                        batch: list = []
                        if flush:
                            batch, self.results, flushed = self.results, [], now
                        if refill:
                            self._refreshed = now
                        db_round = asyncio.create_task(
                            self._db_round(batch, wants if refill else None)
                        )
                        db_round.add_done_callback(lambda _task: wake.set())
                while (picked := self.slots.take()) is not None:
                    task = asyncio.create_task(self._call(session, *picked, wake))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                idle = not (tasks or self.results or self.slots.queued() or db_round)
                if until_idle and idle and found <= 0 and self._restriction.readable:
                    break  # (a drain waits out an outage of the gate: the calls are still due)
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
            self._restriction.close()

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
            return None if wants is None else self._claimer.claim(wants, known, owned)

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
        with self._calls_lock:
            self._calls[item.client_id] += 1
        try:
            outcome = await transport.post(session, lane.url, item.body, headers, self.timeout)
        finally:
            with self._calls_lock:
                self._calls[item.client_id] -= 1
        self.slots.done(lane, sent=not outcome.held, ok=outcome.ok, slow=outcome.slow)
        self.owned.discard(item.delivery_id)
        self.results.append(outcomes.Result(lane.workflow_id, item, outcome))
        wake.set()

    def calls_in_flight(self) -> dict[int, int]:
        """Return the calls on the wire now, per client id."""
        with self._calls_lock:
            return {client_id: n for client_id, n in self._calls.items() if n > 0}

    async def _gate(self, peer: tuple | None) -> None:
        await self._restriction(peer)

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
