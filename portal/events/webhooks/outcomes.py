"""Recording call outcomes in batches: attempts, retries with backoff, event status, circuit.

One transaction per batch of outcomes, set-based where the rows allow it, instead of a commit
around every call.
"""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.core.clock import utc_now
from portal.events import counters
from portal.events.runs import LATEST_RUN
from portal.events.webhooks.slots import Item
from portal.events.webhooks.transport import CallOutcome
from portal.extensions import db
from portal.models.events import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    EVENT_FAILED,
    EVENT_PROCESSED,
    EVENT_QUEUED,
)
from portal.models.tables import attempts, deliveries, events, workflows

JITTER = 0.25  # a retry waits its backoff plus up to a quarter more
CHUNK = 500  # ids per IN (...) list, under every database's parameter limit


@dataclass(frozen=True)
class Result:
    workflow_id: int | None
    item: Item
    outcome: CallOutcome


def retry_delay(attempts: int, outcome: CallOutcome) -> float:
    """Return seconds until the next try after ``attempts`` failed ones.

    Exponential backoff with jitter; a receiver's ``Retry-After`` wins, capped by config.
    """
    config = current_app.config
    if outcome.retry_after is not None:
        return min(outcome.retry_after, float(config["WEBHOOK_RETRY_AFTER_MAX_SECONDS"]))
    base = float(config["WEBHOOK_BACKOFF_SECONDS"]) * 2 ** (attempts - 1)
    return base * (1 + random.uniform(0, JITTER))  # noqa: S311 (jitter, not a secret)


def release(items: list[Item]) -> None:
    """Make claimed but unsent deliveries due now again (restriction, pause, shutdown)."""
    if items:
        _make_due([item.delivery_id for item in items], utc_now())
        db.session.commit()


def _make_due(ids: list[int], now: datetime) -> None:
    statement = (
        sa.update(deliveries)
        .where(
            deliveries.c.id.in_(sa.bindparam("ids", expanding=True)),
            deliveries.c.status == DELIVERY_PENDING,
        )
        .values(next_attempt_at=now, claimed_until=None)
    )
    for start in range(0, len(ids), CHUNK):
        db.session.execute(statement, {"ids": ids[start : start + CHUNK]})


def release_stale_claims(now: datetime) -> None:
    """Make the deliveries a previous lease holder had in hand due now (it died mid-call:
    they are sent again, with the same ``webhook-id``)."""
    db.session.execute(
        sa.update(deliveries)
        .where(deliveries.c.claimed_until.is_not(None), deliveries.c.status == DELIVERY_PENDING)
        .values(next_attempt_at=now, claimed_until=None)
    )


def record(results: list[Result]) -> None:
    """Store a batch of outcomes in one transaction (commits)."""
    now = utc_now()
    held = [r.item for r in results if r.outcome.held]
    sent = [r for r in results if not r.outcome.held]
    if held:
        _make_due([item.delivery_id for item in held], now)
    if sent:
        deltas: Counter = Counter()  # for the counters: what finished in this batch
        _store_attempts(sent, now)
        _update_deliveries(sent, now, deltas)
        _update_events(sent, now, deltas)
        _circuit(sent, now)
        counters.add(db.session.connection(), deltas, shard=0)
    db.session.commit()


def _store_attempts(sent: list[Result], now: datetime) -> None:
    db.session.execute(
        sa.insert(attempts),
        [
            {
                "delivery_id": r.item.delivery_id,
                "attempted_at": now - timedelta(milliseconds=r.outcome.duration_ms),
                "status_code": r.outcome.status_code,
                "error": r.outcome.error,
                "duration_ms": r.outcome.duration_ms,
                "request_headers": r.outcome.request_headers,
                "response_headers": r.outcome.response_headers,
                "response_body": r.outcome.response_body,
            }
            for r in sent
        ],
    )


def _update_deliveries(sent: list[Result], now: datetime, deltas: Counter) -> None:
    most = int(current_app.config["WEBHOOK_MAX_ATTEMPTS"])
    rows = []
    for r in sent:
        tries = r.item.attempts + 1
        row = {
            "b_id": r.item.delivery_id,
            "attempts": tries,
            "response_code": r.outcome.status_code,
            "last_error": r.outcome.error,
            "status": DELIVERY_PENDING,
            "next_attempt_at": None,
            "finished_at": None,
            "claimed_until": None,
        }
        if r.outcome.ok or tries >= most:
            row.update(status=DELIVERY_SUCCEEDED if r.outcome.ok else DELIVERY_FAILED)
            row["finished_at"] = now
            _count_finished(deltas, r.item, row["status"], now)
        else:
            row["next_attempt_at"] = now + timedelta(seconds=retry_delay(tries, r.outcome))
        rows.append(row)
    statement = (
        sa.update(deliveries)
        .where(deliveries.c.id == sa.bindparam("b_id"), deliveries.c.status == DELIVERY_PENDING)
        .values(
            {
                name: sa.bindparam(name)
                for name in (
                    "attempts",
                    "response_code",
                    "last_error",
                    "status",
                    "next_attempt_at",
                    "finished_at",
                    "claimed_until",
                )
            }
        )
    )
    db.session.execute(statement, rows)


def _count_finished(deltas: Counter, item: Item, status: str, now: datetime) -> None:
    spent = (now - item.created_at).total_seconds() if item.created_at else 0.0
    counters.deliveries_finished(deltas, item.client_id, status, round(spent, 3))


def _update_events(sent: list[Result], now: datetime, deltas: Counter) -> None:
    """Count the attempts on the events, and finish those with no delivery left pending."""
    tries: Counter = Counter(r.item.event_id for r in sent)
    errors = {r.item.event_id: r.outcome.error for r in sent}
    clients = {r.item.event_id: r.item.client_id for r in sent}
    finish = _finishing(list(tries))
    counted = sa.update(events).where(events.c.id == sa.bindparam("b_id"))
    attempts = events.c.attempts + sa.bindparam("b_tries")
    ongoing = [
        {"b_id": eid, "b_tries": n, "b_error": errors[eid]}
        for eid, n in tries.items()
        if eid not in finish
    ]
    if ongoing:
        statement = counted.values(attempts=attempts, last_error=sa.bindparam("b_error"))
        db.session.execute(statement, ongoing)
    if finish:
        statement = counted.values(
            attempts=attempts,
            status=sa.bindparam("b_status"),
            processed_at=now,
            last_error=sa.bindparam("b_error"),
        )
        rows = [
            {"b_id": eid, "b_tries": tries[eid], "b_status": status, "b_error": error}
            for eid, (status, error) in finish.items()
        ]
        db.session.execute(statement, rows)
        for eid, (status, _) in finish.items():
            counters.events_finished(deltas, clients[eid], status)


def _finishing(event_ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """Return {event id: (final status, error)} for the queued events among ``event_ids``
    whose deliveries of the latest run are all done (read in the transaction that updated
    them). Only that run decides: deliveries of earlier runs (before a replay) do not."""
    query = (
        sa.select(
            deliveries.c.event_id,
            deliveries.c.status,
            deliveries.c.last_error,
            events.c.status.label("event_status"),
        )
        .select_from(deliveries.join(events, deliveries.c.event_id == events.c.id))
        .where(deliveries.c.event_id.in_(sa.bindparam("ids", expanding=True)), LATEST_RUN)
    )
    states: dict[int, list] = defaultdict(list)
    for start in range(0, len(event_ids), CHUNK):
        for row in db.session.execute(query, {"ids": event_ids[start : start + CHUNK]}).all():
            states[row.event_id].append(row)
    finish = {}
    for event_id, rows in states.items():
        if rows[0].event_status != EVENT_QUEUED:
            continue
        if any(row.status == DELIVERY_PENDING for row in rows):
            continue
        failed = [row.last_error for row in rows if row.status == DELIVERY_FAILED]
        finish[event_id] = (EVENT_FAILED, failed[0]) if failed else (EVENT_PROCESSED, None)
    return finish


def _circuit(sent: list[Result], now: datetime) -> None:
    """Count consecutive failures per workflow; pause it (circuit open) once the run of failures
    reaches the configured number and has lasted the configured time."""
    threshold = int(current_app.config["WEBHOOK_CIRCUIT_FAILURES"])
    span = timedelta(seconds=float(current_app.config["WEBHOOK_CIRCUIT_SECONDS"]))
    by_flow: dict[int, list[CallOutcome]] = defaultdict(list)
    for r in sent:
        if r.workflow_id is not None:
            by_flow[r.workflow_id].append(r.outcome)
    for flow_id, outcomes in by_flow.items():
        successes = [i for i, outcome in enumerate(outcomes) if outcome.ok]
        if successes:
            streak = len(outcomes) - 1 - successes[-1]
            values = {
                "consecutive_failures": sa.literal(streak),
                "failing_since": sa.literal(now if streak else None, sa.DateTime()),
            }
        else:
            values = {
                "consecutive_failures": workflows.c.consecutive_failures + len(outcomes),
                "failing_since": sa.func.coalesce(workflows.c.failing_since, now),
            }
        db.session.execute(sa.update(workflows).where(workflows.c.id == flow_id).values(values))
        if threshold <= 0:
            continue
        last = outcomes[-1].error or "failed"
        reason = f"{threshold} consecutive failed calls; the last: {last}"
        db.session.execute(
            sa.update(workflows)
            .where(
                workflows.c.id == flow_id,
                workflows.c.paused_at.is_(None),
                workflows.c.consecutive_failures >= threshold,
                workflows.c.failing_since <= now - span,
            )
            .values(paused_at=now, pause_reason=reason[:1000])
        )


def fail_orphans(rows: list, now: datetime) -> None:
    """Fail pending deliveries whose workflow was deleted or no longer calls a webhook."""
    results = [
        Result(
            None,
            Item(row.id, row.event_id, row.client_id, row.attempts, b"", row.created_at),
            CallOutcome(False, None, "The workflow was deleted or no longer calls a webhook."),
        )
        for row in rows
    ]
    deltas: Counter = Counter()
    for r in results:
        _count_finished(deltas, r.item, DELIVERY_FAILED, now)
    db.session.execute(
        sa.update(deliveries)
        .where(deliveries.c.id.in_([r.item.delivery_id for r in results]))
        .values(
            status=DELIVERY_FAILED,
            next_attempt_at=None,
            finished_at=now,
            last_error=results[0].outcome.error if results else None,
        )
    )
    _finish_only({r.item.event_id: r.item.client_id for r in results}, now, deltas)
    counters.add(db.session.connection(), deltas, shard=0)
    db.session.commit()


def _finish_only(clients: dict[int, int], now: datetime, deltas: Counter) -> None:
    """Finish the events whose last pending deliveries were just failed without a call."""
    finish = _finishing(list(clients))
    if not finish:
        return
    statement = (
        sa.update(events)
        .where(events.c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"), processed_at=now, last_error=sa.bindparam("b_error")
        )
    )
    rows = [{"b_id": eid, "b_status": st, "b_error": err} for eid, (st, err) in finish.items()]
    db.session.execute(statement, rows)
    for eid, (status, _) in finish.items():
        counters.events_finished(deltas, clients[eid], status)
