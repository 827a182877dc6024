"""Failed sign-ins: the per-address throttle and the per-account, per-address lockout.

Failures are rows in the database, so every web worker and every process on PostgreSQL sees
the same counts. Three rules read them:

* **Throttle.** An address with ``LOGIN_THROTTLE`` failures (any account, unknown emails too)
  in the period is refused with 429 until the oldest of them leaves the period.
* **Lockout per account and address.** ``password_retry_limit`` failures at one account from one
  address within the client's lockout period lock that account *for that address* for the
  lockout period. The owner, at another address, is not affected.
* **Distributed guessing.** Once an account has had ``ACCOUNT_ALARM_FACTOR`` times its retry
  limit in failures from all addresses together within the lockout period, only browsers that
  carry the account's device cookie (set by an earlier successful sign-in) may try a password
  for it; others are refused as locked until the failures age out. The owner's own browser keeps
  working, and each address still gets at most its retry limit.

An attempt holds its failure row *before* its password is checked (:func:`reserve`), and the rules
are read under a lock, so parallel requests cannot all pass the rules before any of them is
recorded: however many arrive at once, no more passwords are checked than the rules allow. The
row is given back when the password turns out right (:func:`release`, :func:`forget_failures`).
"""

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import Client, SignInFailure, User
from portal.security.config import Throttle

ACCOUNT_ALARM_FACTOR = 4
_rows = SignInFailure.__table__


def source(remote_addr: str | None) -> str:
    """Return what failures are counted by: the IPv4 address, or the IPv6 /64 it belongs to
    (one subscriber usually gets a whole /64, so rotating inside it must not reset the counts)."""
    try:
        ip = ipaddress.ip_address((remote_addr or "").split("%", 1)[0])
    except ValueError:
        return (remote_addr or "")[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def throttle() -> Throttle:
    return current_app.config["LOGIN_THROTTLE_PARSED"]


def throttled_for(address: str, now: datetime, rule: Throttle | None = None) -> int:
    """Return the seconds ``address`` must wait before signing in again (0: it may try now);
    ``rule``: another throttle than the sign-in one over the same rows (password reset)."""
    rule = rule or throttle()
    since = now - timedelta(seconds=rule.seconds)
    recent = (
        sa.select(_rows.c.at)
        .where(_rows.c.address == address, _rows.c.at > since)
        .order_by(_rows.c.at.desc())
        .limit(rule.limit)
    )
    times = db.session.scalars(recent).all()
    if len(times) < rule.limit:
        return 0
    # The address may try again once the oldest of its last `limit` failures leaves the period.
    wait = (times[-1] + timedelta(seconds=rule.seconds) - now).total_seconds()
    return max(1, ceil(wait))


def locked_for(user: User, address: str, now: datetime) -> bool:
    """Return whether ``address`` is locked out of ``user``'s account at ``now``."""
    limit = user.client.password_retry_limit
    period = timedelta(minutes=user.client.lockout_minutes)
    recent = (
        sa.select(_rows.c.at)
        .where(_rows.c.user_id == user.id, _rows.c.address == address)
        .where(_rows.c.at > now - 2 * period)
        .order_by(_rows.c.at.desc())
        .limit(limit)
    )
    times = db.session.scalars(recent).all()
    # Locked for the lockout period after the `limit`-th failure within one lockout period.
    return len(times) >= limit and times[0] - times[-1] <= period and times[0] + period > now


def under_attack(user: User, now: datetime) -> bool:
    """Return whether the account had many failures from all addresses in its lockout period."""
    since = now - timedelta(minutes=user.client.lockout_minutes)
    alarm = ACCOUNT_ALARM_FACTOR * user.client.password_retry_limit
    # Count no further than the alarm: an account under attack may have a great many rows.
    recent = (
        sa.select(_rows.c.id).where(_rows.c.user_id == user.id, _rows.c.at > since).limit(alarm)
    )
    count = db.session.scalar(sa.select(sa.func.count()).select_from(recent.subquery()))
    return count >= alarm


@dataclass(frozen=True)
class Reservation:
    """What :func:`reserve` decided: ``wait`` > 0 throttled (nothing held), else the failure row
    ``row_id`` is held; ``locked``: the password must not be checked."""

    row_id: int | None
    locked: bool = False
    wait: int = 0


def reserve(address: str, user: User | None, now: datetime, *, known_device: bool) -> Reservation:
    """Decide whether this attempt may check a password, holding its failure row if so; commits.

    The row counts toward the throttle, and toward the lockout of ``user`` unless the account is
    locked for this attempt. It is committed before any password is checked, so every other
    worker already counts it while the password hash runs.
    """
    _serialize(address, user)
    wait = throttled_for(address, now)
    if wait:
        db.session.rollback()
        return Reservation(None, wait=wait)
    locked = user is not None and (
        locked_for(user, address, now) or (not known_device and under_attack(user, now))
    )
    counted = user.id if user is not None and not locked else None
    row_id = db.session.execute(
        sa.insert(_rows).values(at=now, address=address, user_id=counted).returning(_rows.c.id)
    ).scalar_one()
    db.session.execute(sa.delete(_rows).where(_rows.c.at < now - _horizon()))
    db.session.commit()
    return Reservation(row_id, locked=locked)


def _serialize(address: str, user: User | None) -> None:
    # Until the commit, no other attempt from this address (or at this account) reads the rows.
    # SQLite: take the database's write lock before reading (a write transaction is already
    # open when the session wrote before). PostgreSQL: transaction-scoped advisory locks, always
    # address first, then account, so two attempts never wait for each other in a circle.
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    keys = [f"address {address}"] + ([f"account {user.id}"] if user is not None else [])
    for key in keys:
        digest = hashlib.sha256(f"portal sign-in {key}".encode()).digest()
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))


def throttle_only(reservation: Reservation) -> None:
    """Count a held row toward the address's throttle only (a refusal that is no wrong password)."""
    db.session.execute(
        sa.update(_rows).where(_rows.c.id == reservation.row_id).values(user_id=None)
    )


def release(reservation: Reservation) -> None:
    """Give a held row back: the attempt was no failure (e.g. refused only by maintenance)."""
    db.session.execute(sa.delete(_rows).where(_rows.c.id == reservation.row_id))


def _horizon() -> timedelta:
    # Older failures matter to no rule: the lockout looks back two lockout periods at most.
    longest = db.session.scalar(sa.select(sa.func.max(Client.lockout_minutes))) or 0
    return max(timedelta(seconds=throttle().seconds), timedelta(minutes=2 * longest))


def forget_failures(user: User, address: str | None = None) -> None:
    """Clear the account's failures (from ``address`` only, when given): a success or an unlock."""
    query = sa.delete(_rows).where(_rows.c.user_id == user.id)
    if address is not None:
        query = query.where(_rows.c.address == address)
    db.session.execute(query)
