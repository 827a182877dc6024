"""Claiming due deliveries for the pump, lane by lane (runs on the pump's database thread)."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events import lease
from portal.events.actions import ACTION_WEBHOOK, webhook_body
from portal.events.guard import restriction_on
from portal.events.webhooks import outcomes, signing
from portal.events.webhooks.outcomes import CHUNK
from portal.events.webhooks.slots import Item
from portal.extensions import db
from portal.models.events import DELIVERY_PENDING
from portal.models.tables import deliveries, events, workflows

DRY_SECONDS = 0.2  # a lane whose refill found nothing asks again after this
ORPHAN_SECONDS = 5.0
ORPHAN_ROWS = 200


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


class Claimer:
    """Claims for one lease holder: a claimed delivery is due again only after ``window``."""

    def __init__(self, holder: str, window: timedelta, first_room: int) -> None:
        self.holder = holder
        self.window = window
        self.first_room = first_room  # how many to claim for a lane not seen before
        self._holding = False  # whether we held the lease at the last claim
        self._orphans_at = 0.0

    def claim(self, wants: dict[int, int], known: set[int], owned: frozenset[int]) -> Refill:
        """Claim up to ``wants[workflow]`` due deliveries per lane; commits."""
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
        lanes = lane_configs()
        claimed: dict[int, list[Item]] = {}
        dry: set[int] = set()
        for config in lanes:
            wid = config.workflow_id
            room = wants.get(wid, 0) if wid in known else self.first_room
            if room <= 0:
                continue
            items = [item for item in due(wid, now, room) if item.delivery_id not in owned]
            if items:
                self._mark([item.delivery_id for item in items], now + self.window)
                claimed[wid] = items
            else:
                dry.add(wid)
        if time.monotonic() >= self._orphans_at:
            self._orphans_at = time.monotonic() + ORPHAN_SECONDS
            fail_orphans(now)
        db.session.commit()
        return Refill(True, lanes, claimed, dry)

    @staticmethod
    def _mark(ids: list[int], until: datetime) -> None:
        statement = (
            sa.update(deliveries)
            .where(deliveries.c.id.in_(sa.bindparam("ids", expanding=True)))
            .values(next_attempt_at=until, claimed_until=until)
        )
        for start in range(0, len(ids), CHUNK):
            db.session.execute(statement, {"ids": ids[start : start + CHUNK]})


def lane_configs() -> list[LaneConfig]:
    """Return the webhook workflows that may be called now (not paused), by id."""
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


def due(workflow_id: int, now: datetime, limit: int) -> list[Item]:
    """Return the workflow's due deliveries, oldest due first, with their bodies."""
    rows = db.session.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.event_id,
            deliveries.c.attempts,
            deliveries.c.created_at,
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
            row.created_at,
        )
        for row in rows
    ]


def fail_orphans(now: datetime) -> None:
    """Fail pending deliveries whose workflow was deleted or no longer calls a webhook."""
    gone = db.session.scalars(
        sa.select(workflows.c.id).where(
            sa.or_(workflows.c.action != ACTION_WEBHOOK, workflows.c.url == "")
        )
    ).all()
    rows = db.session.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.event_id,
            deliveries.c.attempts,
            deliveries.c.created_at,
            events.c.client_id,
        )
        .select_from(deliveries.join(events, deliveries.c.event_id == events.c.id))
        .where(
            deliveries.c.status == DELIVERY_PENDING,
            sa.or_(deliveries.c.workflow_id.is_(None), deliveries.c.workflow_id.in_(gone)),
        )
        .limit(ORPHAN_ROWS)
    ).all()
    if rows:
        outcomes.fail_orphans(rows, now)
