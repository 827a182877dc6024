"""The one maintenance-state row of the instance."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import AccessGroup, Role

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


PUBLIC_FIELDS = ("enabled", "restrict_event_processor", "processing", "message")


class MaintenanceState(db.Model):
    __tablename__ = "maintenance_state"

    id: Mapped[int] = mapped_column(primary_key=True, default=STATE_ID)
    enabled: Mapped[bool] = mapped_column(default=False)
    restrict_event_processor: Mapped[bool] = mapped_column(default=False)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    changed_at: Mapped[datetime | None]
    changed_by: Mapped[str | None] = mapped_column(sa.String(255))
    enabled_since: Mapped[datetime | None]

    # loaded only when maintenance is on, so the per-request check stays one query
    bypass_roles: Mapped[list[Role]] = relationship(
        secondary=bypass_roles, back_populates="bypass_states"
    )
    bypass_groups: Mapped[list[AccessGroup]] = relationship(
        secondary=bypass_groups, back_populates="bypass_states"
    )

    @property
    def processing_paused(self) -> bool:
        """Return whether event processing is held (the restriction only counts while enabled)."""
        return self.enabled and self.restrict_event_processor

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
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None
