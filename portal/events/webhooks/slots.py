"""Fair sharing of the call slots between endpoints (one lane per webhook workflow).

Every lane has its own queue of claimed deliveries. Slots go round-robin to the lanes that
have work, each lane bounded by its admin cap (``max_in_flight``), its rate limit and an
adaptive window: a success widens the window by one, a call that times out or cannot connect
halves it. An endpoint that hangs therefore ends up holding a slot or two instead of all of
them, and a healthy one takes the rest.
"""

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

INITIAL_WINDOW = 8.0
MIN_WINDOW = 1.0


@dataclass
class Item:
    """A claimed delivery, ready to send."""

    delivery_id: int
    event_id: int
    client_id: int
    attempts: int
    body: bytes
    created_at: datetime | None = None  # of the delivery: its latency is counted from then


@dataclass
class Lane:
    workflow_id: int
    url: str = ""
    key: bytes = b""
    cap: int | None = None  # admin's calls-in-flight cap
    rate: float | None = None  # admin's calls per second
    queue: deque = field(default_factory=deque)
    in_flight: int = 0
    window: float = INITIAL_WINDOW
    next_send: float = 0.0  # rate limit: monotonic time of the next allowed call
    dry_until: float = 0.0  # the last refill found nothing due: do not ask before this


class Slots:
    """The global in-flight limit and the lanes sharing it."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, concurrency)
        self.lanes: dict[int, Lane] = {}
        self.in_flight = 0
        self._turn: deque[int] = deque()

    def lane(self, workflow_id: int) -> Lane:
        """Return the workflow's lane, creating it."""
        lane = self.lanes.get(workflow_id)
        if lane is None:
            lane = self.lanes[workflow_id] = Lane(workflow_id)
            self._turn.append(workflow_id)
        return lane

    def drop(self, workflow_id: int) -> list[Item]:
        """Remove a lane (workflow gone or paused); return its queued, unsent items."""
        lane = self.lanes.pop(workflow_id, None)
        if lane is None:
            return []
        self._turn.remove(workflow_id)
        return list(lane.queue)

    def limit(self, lane: Lane) -> int:
        """Return how many calls the lane may have in flight now."""
        return max(1, min(lane.cap or self.concurrency, int(lane.window), self.concurrency))

    def room(self, lane: Lane) -> int:
        """Return how many more items the lane could use queued (refill target: enough for
        three windows, so claims come in few, large batches)."""
        return max(0, 3 * self.limit(lane) - len(lane.queue) - lane.in_flight)

    def take(self, now: float | None = None) -> tuple[Lane, Item] | None:
        """Return the next (lane, item) to send, round-robin over ready lanes, or None."""
        if self.in_flight >= self.concurrency:
            return None
        now = time.monotonic() if now is None else now
        for _ in range(len(self._turn)):
            lane = self.lanes[self._turn[0]]
            self._turn.rotate(-1)
            if not lane.queue or lane.in_flight >= self.limit(lane) or now < lane.next_send:
                continue
            if lane.rate:
                lane.next_send = max(now, lane.next_send) + 1.0 / lane.rate
            lane.in_flight += 1
            self.in_flight += 1
            return lane, lane.queue.popleft()
        return None

    def done(self, lane: Lane, *, sent: bool, ok: bool, slow: bool) -> None:
        """Give the slot back and adapt the lane's window to how the call went."""
        lane.in_flight -= 1
        self.in_flight -= 1
        if slow:
            lane.window = max(MIN_WINDOW, lane.window / 2)
        elif sent and ok:
            lane.window = min(float(self.concurrency), lane.window + 1)

    def next_ready(self, now: float) -> float | None:
        """Return when a rate-limited lane with work may send next (None: none waits)."""
        waits = [ln.next_send for ln in self.lanes.values() if ln.queue and ln.next_send > now]
        return min(waits) if waits else None

    def queued(self) -> int:
        return sum(len(lane.queue) for lane in self.lanes.values())
