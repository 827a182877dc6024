"""One processor round: claim the oldest queued events in batches and run their workflows."""

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from portal.core.clock import utc_now
from portal.events import counters, hooks, lease, recovery, triggers
from portal.events.actions import ACTION_RECORD, ACTION_WEBHOOK, record_result
from portal.events.evaluation import Evaluation
from portal.events.guard import begin_guarded, stopping
from portal.extensions import db
from portal.maintenance import schedule, windows
from portal.models.events import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    EVENT_FAILED,
    EVENT_PROCESSED,
    EVENT_QUEUED,
)
from portal.models.tables import deliveries as deliveries_t
from portal.models.tables import events, workflows

ID_CHUNK = 500
CLAIM_BUDGET_SECONDS = 10.0  # then let retries and triggers have a turn
JOB_BUDGET_SECONDS = 5.0  # bulk jobs per round; a longer one goes on in the next round


@dataclass
class TickReport:
    holder: bool = False
    fired: int = 0
    started: int = 0
    purged: int = 0
    recovered: int = 0  # rows retried or replayed by bulk jobs


def tick(holder: str, on_batch: Callable[[], None] | None = None) -> TickReport:
    """Run one round as ``holder``: take the lease, fire due triggers and start queued events
    batch by batch (oldest first), calling ``on_batch`` after each committed batch. Webhook
    calls are the pump's (:mod:`.webhooks.pump`)."""
    report = TickReport()
    schedule.start_if_due()  # also when no page is being served
    if not lease.acquire(holder):
        return report
    report.holder = True
    report.fired = triggers.fire_due(holder)
    size = int(current_app.config["PROCESSOR_BATCH_SIZE"])
    deadline = time.monotonic() + CLAIM_BUDGET_SECONDS
    while time.monotonic() < deadline and not stopping.is_set():
        started = process_batch(holder, size)
        report.started += started
        if started and on_batch is not None:
            on_batch()
        if started < size:
            break
    if stopping.is_set():
        return report
    report.recovered = recovery.run_jobs(time.monotonic() + JOB_BUDGET_SECONDS)
    windows.observe_drains()
    if not stopping.is_set():
        report.purged = hooks.current().housekeeping(holder)  # portal.operations' retention
    return report


def process_batch(holder: str, size: int) -> int:
    """Start up to ``size`` queued events in one transaction; return how many started.

    ``record`` actions run inside the transaction; ``webhook`` deliveries are committed as
    pending (their id is the idempotency key) and called afterwards by the webhook pump
    (:mod:`.webhooks.pump`).
    Set-based: one INSERT ... SELECT per workflow and one UPDATE per kind of outcome. An event
    for which a workflow cannot be evaluated fails alone (:mod:`.evaluation`).
    """
    if not begin_guarded(holder):
        return 0
    batch = db.session.execute(
        sa.select(events.c.id, events.c.client_id, events.c.type)
        .where(events.c.status == EVENT_QUEUED, events.c.started_at.is_(None))
        .order_by(events.c.id)
        .limit(size)
    ).all()
    if not batch:
        db.session.commit()
        return 0
    now = utc_now()
    flows = _enabled_workflows({row.client_id for row in batch})
    payloads = _payloads_for_conditions(batch, flows)
    targets: dict[int, list[int]] = defaultdict(list)  # workflow id -> event ids
    outcomes: dict[tuple[int, bool, bool], list[int]] = defaultdict(list)
    deltas: Counter = Counter()  # for the counters: the events and deliveries finishing
    evaluation = Evaluation(flows)
    for event in batch:
        chosen = evaluation.chosen(event, payloads.get(event.id))
        if chosen is None:  # a workflow could not be evaluated: the event fails alone
            counters.events_finished(deltas, event.client_id, EVENT_FAILED)
            continue
        done, pending, failed = 0, False, False
        for flow in chosen:
            targets[flow.id].append(event.id)
            status = _status_for(flow.action)
            pending = pending or status == DELIVERY_PENDING
            failed = failed or status == DELIVERY_FAILED
            done += status != DELIVERY_PENDING
        outcomes[(done, pending, failed)].append(event.id)
        if not pending:
            status = EVENT_FAILED if failed else EVENT_PROCESSED
            counters.events_finished(deltas, event.client_id, status)
    by_id = {flow.id: flow for client_flows in flows.values() for flow in client_flows}
    for flow_id, ids in targets.items():
        flow = by_id[flow_id]
        for chunk in _chunks(ids):
            _insert_deliveries(flow, chunk, now)
        if (status := _status_for(flow.action)) != DELIVERY_PENDING:  # finished at once
            counters.deliveries_finished(deltas, flow.client_id, status, 0.0, len(ids))
    for (done, pending, failed), ids in outcomes.items():
        values: dict = {"started_at": now, "attempts": events.c.attempts + done}
        if not pending:
            error = "A workflow action failed." if failed else None
            status = EVENT_FAILED if failed else EVENT_PROCESSED
            values.update(status=status, processed_at=now, last_error=error)
        statement = sa.update(events).where(_IN_IDS, events.c.started_at.is_(None)).values(values)
        for chunk in _chunks(ids):
            db.session.execute(statement, {"ids": chunk})
    for error, ids in evaluation.errors.items():  # the failure path: one UPDATE per error
        values = {"started_at": now, "status": EVENT_FAILED, "processed_at": now}
        statement = sa.update(events).where(_IN_IDS, events.c.started_at.is_(None))
        for chunk in _chunks(ids):
            db.session.execute(statement.values(values | {"last_error": error}), {"ids": chunk})
    evaluation.audit()
    # One processor holds the lease and claimed these rows in this transaction: every
    # UPDATE above matched, so the moves are exact.
    counters.add(db.session.connection(), deltas, shard=0)
    db.session.commit()
    return len(batch)


_IN_IDS = events.c.id.in_(sa.bindparam("ids", expanding=True))


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + ID_CHUNK] for start in range(0, len(ids), ID_CHUNK)]


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


def _payloads_for_conditions(batch, flows: dict[int, list]) -> dict[int, object]:
    """Load payloads only for events whose client has a workflow with a payload condition."""
    conditional = {client for client, items in flows.items() if any(f.condition for f in items)}
    ids = [row.id for row in batch if row.client_id in conditional]
    payloads: dict[int, object] = {}
    query = sa.select(events.c.id, events.c.payload).where(_IN_IDS)
    for chunk in _chunks(ids):
        payloads.update(db.session.execute(query, {"ids": chunk}).all())
    return payloads


def _status_for(action: str) -> str:
    if action == ACTION_RECORD:
        return DELIVERY_SUCCEEDED
    return DELIVERY_PENDING if action == ACTION_WEBHOOK else DELIVERY_FAILED


def _insert_deliveries(flow, ids: list[int], now) -> None:
    """Insert one workflow's deliveries for the events ``ids`` with a single statement."""
    status = _status_for(flow.action)
    finished = status != DELIVERY_PENDING
    when = sa.literal(now, sa.DateTime)
    columns = {
        "event_id": events.c.id,
        "workflow_id": sa.literal(flow.id),
        "status": sa.literal(status),
        "attempts": sa.literal(1 if finished else 0),
        "next_attempt_at": sa.null() if finished else when,
        "result": sa.literal(record_result(flow.name), sa.JSON)
        if status == DELIVERY_SUCCEEDED
        else sa.null(),
        "last_error": sa.literal(f"Unknown action {flow.action!r}.")
        if status == DELIVERY_FAILED
        else sa.null(),
        "created_at": when,
        "finished_at": when if finished else sa.null(),
    }
    source = sa.select(*columns.values()).where(_IN_IDS)
    db.session.execute(sa.insert(deliveries_t).from_select(list(columns), source), {"ids": ids})
