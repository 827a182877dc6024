"""Personal access tokens: a user's credential for scripts, stored as a digest only."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models.accounts import User


class PersonalAccessToken(db.Model):
    """One token of one user: its scopes, expiry, revocation and last use.

    The row keeps the sha256 of the token (a long random value, so an indexed digest is safe
    to look up, as for API keys); deleting the user deletes their tokens (the foreign key).
    """

    __tablename__ = "personal_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # shown in lists: "gpat_AbC1"
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(sa.String(255))
    last_used_at: Mapped[datetime | None]
    last_used_from: Mapped[str | None] = mapped_column(sa.String(64))

    user: Mapped[User] = relationship(lazy="joined")

    def usable(self, now: datetime) -> bool:
        """Return whether the token still authenticates (not revoked, not expired)."""
        return self.revoked_at is None and self.expires_at > now
