"""The one maintenance-state row of the instance."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models.accounts import AccessGroup, Role
from portal.models.types import BigId

STATE_ID = 1

bypass_roles = sa.Table(
    "maintenance_bypass_roles",
    db.metadata,
    sa.Column(
        "state_id", sa.ForeignKey("maintenance_state.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("role_id", sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)
bypass_groups = sa.Table(
    "maintenance_bypass_groups",
    db.metadata,
    sa.Column(
        "state_id", sa.ForeignKey("maintenance_state.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("group_id", sa.ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True),
)


def restricted_at(
    enabled: bool, restrict: bool, scheduled_start: datetime | None, now: datetime
) -> bool:
    """Return whether the event processor is held at ``now``: the one definition that the gate
    before each webhook call, the claims, the processor, triggers and every page, the API and
    the metrics ask.

    The saved restriction holds while maintenance is on, and from the time of a scheduled start
    on (the start carries the saved restriction), before any process has applied that start.
    """
    if not restrict:
        return False
    return bool(enabled) or (scheduled_start is not None and scheduled_start <= now)


PUBLIC_FIELDS = (
    "enabled",
    "restrict_event_processor",
    "processing",
    "message",
    "scheduled_start",
    "expected_end",
)
DEFAULT_NOTICE_MINUTES = 30


class MaintenanceState(db.Model):
    __tablename__ = "maintenance_state"

    id: Mapped[int] = mapped_column(primary_key=True, default=STATE_ID)
    enabled: Mapped[bool] = mapped_column(default=False)
    restrict_event_processor: Mapped[bool] = mapped_column(default=False)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    changed_at: Mapped[datetime | None]
    changed_by: Mapped[str | None] = mapped_column(sa.String(255))
    enabled_since: Mapped[datetime | None]
    # A scheduled start (naive UTC) of the saved selection, and the advance notice before it.
    scheduled_start: Mapped[datetime | None]
    notice_minutes: Mapped[int] = mapped_column(default=DEFAULT_NOTICE_MINUTES)
    # When the admin expects the window to end (naive UTC): told on the banners only, the end
    # stays manual. Dropped once maintenance is neither on nor scheduled.
    expected_end: Mapped[datetime | None]
    # The last scheduled start the scheduler refused, and why (shown on admins' dashboards).
    schedule_cancelled_at: Mapped[datetime | None]
    schedule_cancelled_reason: Mapped[str | None] = mapped_column(sa.Text)

    # loaded only when maintenance is on, so the per-request check stays one query; the backref
    # gives Role and AccessGroup ``bypass_states`` (deleting one drops its bypass rows) without
    # the account models importing this module
    bypass_roles: Mapped[list[Role]] = relationship(secondary=bypass_roles, backref="bypass_states")
    bypass_groups: Mapped[list[AccessGroup]] = relationship(
        secondary=bypass_groups, backref="bypass_states"
    )

    @property
    def processing_paused(self) -> bool:
        """Return whether event processing is held now (see :func:`restricted_at`)."""
        return restricted_at(
            self.enabled, self.restrict_event_processor, self.scheduled_start, utc_now()
        )

    def to_public_dict(self) -> dict:
        """Return what every caller may read: not who changed it, nor who may still sign in
        (that would aim a lockout attack at the bypass users)."""
        return {name: value for name, value in self.to_dict().items() if name in PUBLIC_FIELDS}

    def to_dict(self) -> dict:
        """Return the state as the JSON shape of the CLI and the API."""
        return {
            "enabled": self.enabled,
            "restrict_event_processor": self.restrict_event_processor,
            "processing": "paused" if self.processing_paused else "running",
            "message": self.message,
            "bypass_roles": sorted(role.name for role in self.bypass_roles),
            "bypass_groups": sorted(group.name for group in self.bypass_groups),
            "changed_at": _iso(self.changed_at),
            "changed_by": self.changed_by,
            "enabled_since": _iso(self.enabled_since),
            "scheduled_start": _iso(self.scheduled_start),
            "notice_minutes": self.notice_minutes
            if self.notice_minutes is not None
            else DEFAULT_NOTICE_MINUTES,
            "expected_end": _iso(self.expected_end),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


class MaintenanceWindow(db.Model):
    """One maintenance window, from enable to disable: who, how, and what it cost."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    started_by: Mapped[str] = mapped_column(sa.String(255))
    started_via: Mapped[str] = mapped_column(sa.String(16))  # web | cli | scheduler
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(sa.String(255))
    ended_via: Mapped[str | None] = mapped_column(sa.String(16))
    refused_signins: Mapped[int | None]  # counted from the audit log when the window ends
    # the same, per client ({"<client id>": count}), for client-scoped readers of the report
    client_refused_signins: Mapped[dict | None] = mapped_column(sa.JSON)

    periods: Mapped[list["RestrictionPeriod"]] = relationship(
        back_populates="window", order_by="RestrictionPeriod.id", cascade="all, delete-orphan"
    )


class RestrictionPeriod(db.Model):
    """A stretch of a window with the event processor restricted, and the drain after it."""

    __tablename__ = "maintenance_restriction_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(
        sa.ForeignKey("maintenance_windows.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # Fixed when the restriction is lifted: events received while it was on, the backlog
    # then (its peak: nothing starts while restricted) and the newest event held in it.
    events_received: Mapped[int | None]
    peak_backlog: Mapped[int | None]
    last_held_id: Mapped[int | None] = mapped_column(BigId)
    drained_at: Mapped[datetime | None]
    # deliveries of held events that failed in the drain, fixed when the drain ends
    failed_in_drain: Mapped[int | None]
    # each client's figures, fixed when the drain ends: {"<client id>": {"held", "peak",
    # "drain_seconds", "failed"}}
    client_figures: Mapped[dict | None] = mapped_column(sa.JSON)

    window: Mapped[MaintenanceWindow] = relationship(back_populates="periods")
