"""Sign-in security: failed sign-ins per source address, and the sessions a user holds."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models.types import BigId


class SignInFailure(db.Model):
    """One refused sign-in (not a refusal only because of maintenance), kept for a while; also
    an attempt whose password is being checked (held before the check, given back if right).

    The per-address throttle counts rows by ``address``; the per-account lockout counts them by
    ``user_id`` and ``address``. Every worker and process reads the same rows.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        sa.Index("ix_sign_in_failures_address_at", "address", "at"),
        sa.Index("ix_sign_in_failures_user_id_at", "user_id", "at"),
        sa.Index("ix_sign_in_failures_user_id_address_at", "user_id", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)  # failures from a botnet add up
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    address: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))


class UserSession(db.Model):
    """A signed-in session; the cookie carries its token, the row stores the token's digest.

    Deleting the row ends the session and any remember-me cookie that copied it.
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # What the sessions page shows (portal.security.sessions): where and with what it signed in,
    # and when it was last used (written at most once a minute).
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    address: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    last_seen_at: Mapped[datetime | None]


class TwoFactor(db.Model):
    """A user's TOTP secret (RFC 6238); ``confirmed_at`` None: enrolment not yet confirmed.

    ``last_step`` is the time step of the last code accepted: a code is usable once.
    """

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(sa.String(64))
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RecoveryCode(db.Model):
    """A single-use recovery code of a user's second factor, stored as its sha256."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None]
