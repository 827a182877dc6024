"""The mail outbox: every message the portal sends, its attempts, and password-reset links."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models.types import BigId

PENDING, SENT, FAILED, CANCELLED = "pending", "sent", "failed", "cancelled"


class OutboxMessage(db.Model):
    """One message to one address, rendered when queued; the processor's process sends it.

    ``topic`` groups messages (``maintenance-notice``, ``maintenance-started``,
    ``maintenance-ended``, ``password-reset``); a pending notice whose schedule changed is
    cancelled, never deleted.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (sa.Index("ix_mail_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    topic: Mapped[str] = mapped_column(sa.String(40), index=True)
    to_address: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]
    # The maintenance window a notice belongs to, once it exists (the window page counts them).
    window_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("maintenance_windows.id", ondelete="SET NULL"), index=True
    )


class MailAttempt(db.Model):
    """One try at sending an outbox message: when, and the server's answer or the error."""

    __tablename__ = "mail_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("mail_outbox.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utc_now)
    ok: Mapped[bool]
    answer: Mapped[str] = mapped_column(sa.Text)


class PasswordReset(db.Model):
    """A password-reset link: the digest of its token; valid until used, replaced, expired, or
    the password changes (``password_marker`` is a digest of the hash it was issued for)."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    password_marker: Mapped[str] = mapped_column(sa.String(64))
