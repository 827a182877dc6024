"""Clients (tenants), users, roles and access groups."""

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.clock import utc_now
from portal.extensions import db

user_roles = sa.Table(
    "user_roles",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)
user_groups = sa.Table(
    "user_groups",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", sa.ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True),
)


class Client(db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    # The client ``flask setup`` made first: found by this marker, so renaming it is safe.
    is_default: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    contact_email: Mapped[str] = mapped_column(sa.String(255), default="")
    # sha256 of the key: keys are long random tokens, so an indexed digest is safe to look up.
    api_key_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True, index=True)
    api_key_prefix: Mapped[str] = mapped_column(sa.String(16), default="")
    password_retry_limit: Mapped[int] = mapped_column(default=5)
    lockout_minutes: Mapped[int] = mapped_column(default=15)
    password_regex: Mapped[str] = mapped_column(sa.String(500), default="")
    password_rule_message: Mapped[str] = mapped_column(sa.String(500), default="")
    password_rule_message_de: Mapped[str] = mapped_column(sa.String(500), default="")
    # Every user of the client must sign in with a second factor (portal.accounts.twofactor).
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # days to keep processed and failed events (with their deliveries); see portal.operations
    retention_days: Mapped[int] = mapped_column(default=30, server_default="30")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    users: Mapped[list["User"]] = relationship(back_populates="client")

    def __repr__(self) -> str:
        return f"<Client {self.name}>"


class Role(db.Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    permissions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    # Deleting a role drops its membership rows through this (and the FKs cascade too), its
    # maintenance bypass rows through ``bypass_states``, the backref MaintenanceState adds.
    users: Mapped[list["User"]] = relationship(secondary=user_roles, back_populates="roles")

    def __repr__(self) -> str:
        return f"<Role {self.name}>"


class AccessGroup(db.Model):
    __tablename__ = "access_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    description: Mapped[str] = mapped_column(sa.String(500), default="")

    users: Mapped[list["User"]] = relationship(secondary=user_groups, back_populates="groups")

    def __repr__(self) -> str:
        return f"<AccessGroup {self.name}>"


# Names are unique without regard to case (the rule is portal.accounts.names; these back it up).
sa.Index("uq_clients_name_lower", sa.func.lower(Client.name), unique=True)
sa.Index("uq_roles_name_lower", sa.func.lower(Role.name), unique=True)
sa.Index("uq_access_groups_name_lower", sa.func.lower(AccessGroup.name), unique=True)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Set by each successful sign-in (portal.web.auth.signin); None: never signed in.
    last_signed_in_at: Mapped[datetime | None]
    # Every page but the own-password page redirects there until a new password is set.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Maintenance notices by email (portal.maintenance.notices); users turn them off on /account.
    maintenance_emails: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # The IANA zone the user reads times in (portal.core.timefmt); None: the browser's zone.
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))

    client: Mapped[Client] = relationship(back_populates="users", lazy="joined")
    roles: Mapped[list[Role]] = relationship(
        secondary=user_roles, lazy="selectin", back_populates="users"
    )
    groups: Mapped[list[AccessGroup]] = relationship(
        secondary=user_groups, lazy="selectin", back_populates="users"
    )

    # The open session this object was loaded for (portal.security.sessions); not a column.
    session_token = None

    def get_id(self) -> str:
        """Return what Flask-Login keeps in the session: the user id and the session token."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def permissions(self) -> set[str]:
        """Return the union of the permission codes of all the user's roles."""
        return {code for role in self.roles for code in role.permissions}

    def can(self, permission: str) -> bool:
        """Return whether any of the user's roles grants ``permission``."""
        return permission in self.permissions

    def is_locked(self, now: datetime) -> bool:
        """Return whether the account is locked out at ``now``."""
        return self.locked_until is not None and self.locked_until > now

    def __repr__(self) -> str:
        return f"<User {self.email}>"
