"""Events, workflows, deliveries, scheduled triggers and the processor lease."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models.types import BigId

EVENT_QUEUED = "queued"
EVENT_PROCESSED = "processed"
EVENT_FAILED = "failed"

DELIVERY_PENDING = "pending"
DELIVERY_SUCCEEDED = "succeeded"
DELIVERY_FAILED = "failed"


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "source_id", name="uq_events_client_source"),
        # "oldest queued events of any client" and per-client dashboards
        sa.Index("ix_events_status_id", "status", "id"),
        sa.Index("ix_events_client_status", "client_id", "status"),
        sa.Index("ix_events_client_processed_at", "client_id", "processed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(sa.String(200))
    payload: Mapped[Any] = mapped_column(sa.JSON, default=dict)
    source_id: Mapped[str | None] = mapped_column(sa.String(200))
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[str] = mapped_column(sa.String(16), default=EVENT_QUEUED)
    started_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class Workflow(db.Model):
    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    event_type: Mapped[str] = mapped_column(sa.String(200), default="*")
    # optional payload condition: {"field": "a.b", "op": "eq|ne|gt|lt|exists", "value": ...}
    condition: Mapped[Any | None] = mapped_column(sa.JSON)
    action: Mapped[str] = mapped_column(sa.String(16), default="record")  # webhook | record
    url: Mapped[str] = mapped_column(sa.String(2000), default="")
    secret: Mapped[str] = mapped_column(sa.String(200), default="")  # whsec_<base64 key>
    # Delivery limits: calls in flight (None: only the global WEBHOOK_CONCURRENCY) and calls
    # per second (None: no rate limit).
    max_in_flight: Mapped[int | None]
    rate_limit: Mapped[float | None]
    # Circuit breaker: after WEBHOOK_CIRCUIT_FAILURES consecutive failed attempts the endpoint is
    # paused (its deliveries are held, not failed) until an admin resumes it.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None]  # when the current run of failures began
    paused_at: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Delivery(db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (
        # A replayed event gets new deliveries: several per (event, workflow) over time.
        sa.Index("ix_deliveries_event_id", "event_id"),
        sa.Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        # "due deliveries of this workflow", so every endpoint is fed separately (fair slots)
        sa.Index("ix_deliveries_workflow_due", "workflow_id", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("events.id", ondelete="CASCADE"))
    workflow_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("workflows.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # Set while the processor holding the lease has the delivery in hand (queued or in flight);
    # a processor taking the lease over makes such deliveries due again at once.
    claimed_until: Mapped[datetime | None]
    response_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[Any | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None]


class DeliveryAttempt(db.Model):
    """One webhook call of a delivery: when, the answer (or error) and how long it took."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    # indexed: the dashboard counts the failed calls of a drain since its lift
    attempted_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[int] = mapped_column(default=0)
    # What was sent (secrets redacted) and the start of the answer (KEPT_BODY_BYTES).
    request_headers: Mapped[Any | None] = mapped_column(sa.JSON)
    response_headers: Mapped[Any | None] = mapped_column(sa.JSON)
    response_body: Mapped[str | None] = mapped_column(sa.Text)


class EventCounter(db.Model):
    """Events per client and status, kept exact by every path that changes them.

    A client has several rows per status (``shard``) so concurrent ingestion on PostgreSQL does
    not queue on one hot row; a figure is the sum of its shards.
    """

    __tablename__ = "event_counters"

    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ScheduledTrigger(db.Model):
    __tablename__ = "scheduled_triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    interval_seconds: Mapped[int | None]
    cron: Mapped[str | None] = mapped_column(sa.String(120))
    event_type: Mapped[str] = mapped_column(sa.String(200))
    payload: Mapped[Any] = mapped_column(sa.JSON, default=dict)
    last_fired_at: Mapped[datetime | None]
    next_fire_at: Mapped[datetime | None]
    missed_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ProcessorLease(db.Model):
    """One row per database: whoever holds an unexpired lease is the active processor."""

    __tablename__ = "processor_lease"

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    holder: Mapped[str | None] = mapped_column(sa.String(120))
    heartbeat_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # Written with every renewal: since when the holder's webhook pump cannot read the
    # restriction (it holds every call meanwhile), and why; NULL while it reads.
    restriction_unreadable_since: Mapped[datetime | None]
    restriction_error: Mapped[str | None] = mapped_column(sa.Text)


class BulkJob(db.Model):
    """A bulk retry or replay from the events page, run by the processor in set-based chunks.

    ``selection`` says which rows: ``{"event_ids": [...]}`` (selected events), ``{"filter":
    {...}}`` (the events page's filter) or ``{"window": id}`` (failed in a window's drain);
    ``client_ids`` is the creator's scope then, and the job never touches another client's rows.
    """

    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(sa.String(16))  # retry | replay
    selection: Mapped[Any] = mapped_column(sa.JSON)
    client_ids: Mapped[Any] = mapped_column(sa.JSON)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(16), default="waiting", index=True)
    expected: Mapped[int] = mapped_column(default=0)  # counted at the confirmation
    done: Mapped[int] = mapped_column(default=0)  # rows retried or replayed so far
    skipped: Mapped[int] = mapped_column(default=0)  # changed meanwhile (already retried...)
    cursor: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # the last id handled
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
