"""Bulk recovery from the events page: retry many failed deliveries or replay many events.

A request only counts what a selection holds and stores a :class:`BulkJob`; the processor
(:func:`run_jobs`, in every round of the lease holder) works through it in chunks, set-based,
one transaction per chunk with the job's progress. The rules are the single actions' of
:mod:`.operations`: only a latest-run failed delivery of a workflow that still exists is
retried, only a finished event is replayed, each by a conditional UPDATE (a row someone else
changed meanwhile is skipped, never counted twice), and the counters move in the same
transaction. Like a single retry, a retried delivery is only made due: while the processor is
restricted the webhook pump holds its call. Each job is audited once, with its count, when it
ends.
"""

import logging
import time
from datetime import datetime

import sqlalchemy as sa

from portal import audit
from portal.core.clock import utc_now
from portal.events import counters
from portal.events.guard import stopping
from portal.events.runs import LATEST_RUN
from portal.extensions import db
from portal.models import BulkJob, RestrictionPeriod, User
from portal.models.events import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    EVENT_FAILED,
    EVENT_PROCESSED,
    EVENT_QUEUED,
)
from portal.models.tables import deliveries, events, jobs

RETRY, REPLAY = "retry", "replay"
WAITING, RUNNING, DONE, FAILED = "waiting", "running", "done", "failed"
CHUNK = 1000
FINISHED = (EVENT_PROCESSED, EVENT_FAILED)
MODULE = "events"
log = logging.getLogger(__name__)


class Refused(Exception):  # noqa: N818
    """The selection cannot be acted on (the message says why)."""


def _event_conditions(client_ids: list[int], selection: dict) -> list:
    """Return the WHERE terms on ``events`` of a selection, always inside ``client_ids``."""
    terms = [events.c.client_id.in_(client_ids)]
    if "event_ids" in selection:
        terms.append(events.c.id.in_([int(i) for i in selection["event_ids"]]))
    chosen = selection.get("filter") or {}
    if chosen.get("type"):
        terms.append(events.c.type == chosen["type"])
    if chosen.get("status"):
        terms.append(events.c.status == chosen["status"])
    if chosen.get("since"):
        terms.append(events.c.received_at >= datetime.fromisoformat(chosen["since"]))
    if chosen.get("until"):
        terms.append(events.c.received_at < datetime.fromisoformat(chosen["until"]))
    return terms


def _window_terms(window_id: int) -> list:
    """Return the WHERE term of "failed in this window's drain": deliveries of the events each
    restriction period held, created after it was lifted."""
    periods = db.session.execute(
        sa.select(RestrictionPeriod.ended_at, RestrictionPeriod.last_held_id).where(
            RestrictionPeriod.window_id == window_id,
            RestrictionPeriod.ended_at.is_not(None),
            RestrictionPeriod.last_held_id.is_not(None),
        )
    ).all()
    drains = [
        sa.and_(deliveries.c.event_id <= p.last_held_id, deliveries.c.created_at >= p.ended_at)
        for p in periods
    ]
    return [sa.or_(*drains) if drains else sa.false()]


def _retryable(client_ids: list[int], selection: dict) -> list:
    """The WHERE terms of the failed deliveries a retry of ``selection`` sends again."""
    terms = [
        deliveries.c.status == DELIVERY_FAILED,
        deliveries.c.workflow_id.is_not(None),
        LATEST_RUN,
        *_event_conditions(client_ids, selection),
    ]
    if "window" in selection:
        terms += _window_terms(int(selection["window"]))
    return terms


def _joined():
    return deliveries.join(events, deliveries.c.event_id == events.c.id)


def count(action: str, client_ids: list[int], selection: dict) -> tuple[int, int]:
    """Return what a job would touch now: (deliveries, events) for a retry, (events, events)
    for a replay."""
    if action == RETRY:
        query = sa.select(
            sa.func.count(), sa.func.count(sa.distinct(deliveries.c.event_id))
        ).select_from(_joined())
        found, of_events = db.session.execute(query.where(*_retryable(client_ids, selection))).one()
        return int(found), int(of_events)
    query = sa.select(sa.func.count()).select_from(events)
    terms = [*_event_conditions(client_ids, selection), events.c.status.in_(FINISHED)]
    found = db.session.scalar(query.where(*terms))
    return int(found), int(found)


def create(actor: User, action: str, client_ids: list[int], selection: dict) -> BulkJob:
    """Store a job for the processor (the caller commits); refuse an empty one."""
    if action not in (RETRY, REPLAY) or (action == REPLAY and "event_ids" not in selection):
        raise Refused("Unknown bulk action.")
    expected, _ = count(action, client_ids, selection)
    if not expected:
        raise Refused("Nothing to do: the selection has no row this action applies to.")
    job = BulkJob(
        action=action,
        selection=selection,
        client_ids=sorted(client_ids),
        user_id=actor.id,
        expected=expected,
    )
    db.session.add(job)
    return job


def run_jobs(deadline: float) -> int:
    """Work through waiting and running jobs, chunk by chunk, until ``deadline`` (a
    ``time.monotonic()`` value); return how many rows they changed."""
    changed = 0
    job_ids = db.session.scalars(
        sa.select(jobs.c.id).where(jobs.c.status.in_((WAITING, RUNNING))).order_by(jobs.c.id)
    ).all()
    for job_id in job_ids:
        while time.monotonic() < deadline and not stopping.is_set():
            job = db.session.get(BulkJob, job_id)
            try:
                changed += run_chunk(job)
            except Exception as exc:  # a broken job must not stop the others or the round
                db.session.rollback()
                log.exception("Bulk job %s failed", job_id)
                _give_up(job_id, f"{type(exc).__name__}: {exc}")
                break
            if job.status in (DONE, FAILED):
                break
    return changed


def _give_up(job_id: int, error: str) -> None:
    """Mark a job that raised as failed (what it did before stays done, and is audited)."""
    job = db.session.get(BulkJob, job_id)
    job.status, job.finished_at, job.error = FAILED, utc_now(), error[:1000]
    _audit(job)
    db.session.commit()


def run_chunk(job: BulkJob) -> int:
    """Handle the job's next chunk in one transaction (commits); return the rows changed."""
    now = utc_now()
    if job.status == WAITING:
        job.status, job.started_at = RUNNING, now
    handle = _retry_chunk if job.action == RETRY else _replay_chunk
    ids, changed = handle(job, now)
    if ids:
        job.cursor = ids[-1]
        job.done += changed
        job.skipped += len(ids) - changed
    if len(ids) < CHUNK:
        job.status, job.finished_at = DONE, now
        _audit(job)
    db.session.commit()
    return changed


def _retry_chunk(job: BulkJob, now: datetime) -> tuple[list[int], int]:
    ids = list(
        db.session.scalars(
            sa.select(deliveries.c.id)
            .select_from(_joined())
            .where(*_retryable(job.client_ids, job.selection), deliveries.c.id > job.cursor)
            .order_by(deliveries.c.id)
            .limit(CHUNK)
        )
    )
    if not ids:
        return ids, 0
    started = sa.select(events.c.started_at).where(events.c.id == deliveries.c.event_id)
    retried = db.session.execute(
        sa.update(deliveries)
        .where(
            deliveries.c.id.in_(ids),
            deliveries.c.status == DELIVERY_FAILED,
            deliveries.c.workflow_id.is_not(None),
            deliveries.c.created_at >= started.scalar_subquery(),
        )
        .values(status=DELIVERY_PENDING, next_attempt_at=now, finished_at=None)
        .returning(deliveries.c.event_id)
    ).all()
    _requeue(sorted({row.event_id for row in retried}), {})
    return ids, len(retried)


def _replay_chunk(job: BulkJob, now: datetime) -> tuple[list[int], int]:
    ids = list(
        db.session.scalars(
            sa.select(events.c.id)
            .where(
                *_event_conditions(job.client_ids, job.selection),
                events.c.status.in_(FINISHED),
                events.c.id > job.cursor,
            )
            .order_by(events.c.id)
            .limit(CHUNK)
        )
    )
    if not ids:
        return ids, 0
    return ids, _requeue(ids, {"started_at": None, "last_error": None})


def _requeue(event_ids: list[int], values: dict) -> int:
    """Put the finished events among ``event_ids`` back to queued, each status by its own
    conditional UPDATE so the counters move exactly; return how many moved."""
    moved = []
    for status in FINISHED:
        for start in range(0, len(event_ids), CHUNK):
            rows = db.session.execute(
                sa.update(events)
                .where(events.c.id.in_(event_ids[start : start + CHUNK]), events.c.status == status)
                .values(status=EVENT_QUEUED, processed_at=None, **values)
                .returning(events.c.client_id)
            ).all()
            moved += [(row.client_id, status, EVENT_QUEUED) for row in rows]
    counters.add(db.session.connection(), counters.moves(moved))
    return len(moved)


def _audit(job: BulkJob) -> None:
    actor = db.session.get(User, job.user_id) if job.user_id else None
    what = "failed deliveries retried" if job.action == RETRY else "events replayed"
    audit.record(
        actor,
        MODULE,
        f"bulk_{job.action}",
        f"Bulk job {job.id}: {job.done} {what} ({job.skipped} skipped: changed meanwhile)",
        after={"count": job.done, "skipped": job.skipped, "selection": job.selection},
        client_id=job.client_ids[0] if len(job.client_ids) == 1 else None,
    )


def visible_job(job_id: int, client_ids: list[int]) -> BulkJob | None:
    """Return the job if every client it touches is among ``client_ids``."""
    job = db.session.get(BulkJob, job_id)
    if job is None or not set(job.client_ids) <= set(client_ids):
        return None
    return job
