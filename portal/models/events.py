"""Events, workflows, deliveries, scheduled triggers and the processor lease."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utc_now
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
    secret: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Delivery(db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "workflow_id", name="uq_deliveries_event_workflow"),
        sa.Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("events.id", ondelete="CASCADE"))
    workflow_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("workflows.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    response_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[Any | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None]


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
