"""One processor round: claim the oldest queued events in batches and run their workflows."""

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from portal.clock import utc_now
from portal.events import deliveries, lease, triggers
from portal.events.actions import ACTION_RECORD, ACTION_WEBHOOK, record_result
from portal.events.conditions import matches
from portal.events.guard import begin_guarded
from portal.events.tables import deliveries as deliveries_t
from portal.events.tables import events, workflows
from portal.extensions import db
from portal.models.events import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    EVENT_FAILED,
    EVENT_PROCESSED,
    EVENT_QUEUED,
)

log = logging.getLogger(__name__)
ID_CHUNK = 500
CLAIM_BUDGET_SECONDS = 10.0  # then let retries and triggers have a turn
stopping = threading.Event()  # set on shutdown: finish the current batch, start no other


@dataclass
class TickReport:
    holder: bool = False
    fired: int = 0
    started: int = 0
    calls: int = 0


def tick(holder: str) -> TickReport:
    """Run one round as ``holder``: take the lease, fire due triggers, start queued events
    batch by batch (oldest first) and make the due webhook calls."""
    report = TickReport()
    if not lease.acquire(holder):
        return report
    report.holder = True
    report.fired = triggers.fire_due(holder)
    size = int(current_app.config["PROCESSOR_BATCH_SIZE"])
    deadline = time.monotonic() + CLAIM_BUDGET_SECONDS
    while time.monotonic() < deadline and not stopping.is_set():
        started = process_batch(holder, size)
        report.started += started
        if started < size:
            break
    if stopping.is_set():
        return report
    budget = max(float(current_app.config["PROCESSOR_INTERVAL_SECONDS"]), 1.0)
    report.calls = deliveries.run_due(holder, time.monotonic() + budget)
    return report


def process_batch(holder: str, size: int) -> int:
    """Start up to ``size`` queued events in one transaction; return how many started.

    ``record`` actions run inside the transaction; ``webhook`` deliveries are committed as
    pending (their id is the idempotency key) and called afterwards by :mod:`deliveries`.
    """
    if not begin_guarded(holder):
        return 0
    batch = db.session.execute(
        sa.select(events.c.id, events.c.client_id, events.c.type, events.c.payload)
        .where(events.c.status == EVENT_QUEUED, events.c.started_at.is_(None))
        .order_by(events.c.id)
        .limit(size)
    ).all()
    if not batch:
        db.session.commit()
        return 0
    now = utc_now()
    flows = _enabled_workflows({row.client_id for row in batch})
    rows: list[dict] = []
    finished: dict[tuple[str, int], list[int]] = defaultdict(list)  # (status, attempts) -> ids
    waiting: dict[int, list[int]] = defaultdict(list)
    for event in batch:
        done, pending, failed = 0, False, False
        for flow in flows.get(event.client_id, ()):
            if not matches(event.type, event.payload, flow.event_type, flow.condition):
                continue
            row = _delivery_row(event, flow, now)
            rows.append(row)
            pending = pending or row["status"] == DELIVERY_PENDING
            failed = failed or row["status"] == DELIVERY_FAILED
            done += row["status"] != DELIVERY_PENDING
        if pending:
            waiting[done].append(event.id)
        else:
            finished[(EVENT_FAILED if failed else EVENT_PROCESSED, done)].append(event.id)
    if rows:
        db.session.execute(sa.insert(deliveries_t), rows)
    for (status, done), ids in finished.items():
        error = "A workflow action failed." if status == EVENT_FAILED else None
        values = {"status": status, "processed_at": now, "last_error": error}
        _start(ids, done, now, values)
    for done, ids in waiting.items():
        _start(ids, done, now, {})
    db.session.commit()
    return len(batch)


def _enabled_workflows(client_ids: set[int]) -> dict[int, list]:
    query = (
        sa.select(workflows)
        .where(workflows.c.enabled.is_(True), workflows.c.client_id.in_(client_ids))
        .order_by(workflows.c.id)
    )
    flows: dict[int, list] = defaultdict(list)
    for flow in db.session.execute(query):
        flows[flow.client_id].append(flow)
    return flows


def _delivery_row(event, flow, now) -> dict:
    row = {
        "event_id": event.id,
        "workflow_id": flow.id,
        "status": DELIVERY_SUCCEEDED,
        "attempts": 1,
        "next_attempt_at": None,
        "result": None,
        "last_error": None,
        "created_at": now,
        "finished_at": now,
    }
    if flow.action == ACTION_RECORD:
        row["result"] = record_result(event.type, flow.name)
    elif flow.action == ACTION_WEBHOOK:
        row.update(status=DELIVERY_PENDING, attempts=0, next_attempt_at=now, finished_at=None)
    else:
        row.update(status=DELIVERY_FAILED, last_error=f"Unknown action {flow.action!r}.")
    return row


def _start(ids: list[int], attempts: int, now, values: dict) -> None:
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        db.session.execute(
            sa.update(events)
            .where(events.c.id.in_(chunk), events.c.started_at.is_(None))
            .values(started_at=now, attempts=events.c.attempts + attempts, **values)
        )
