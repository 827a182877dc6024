"""Maintenance windows: recording each one as the state changes, and the report's figures.

A window runs from enable to disable; inside it, each stretch with the event processor
restricted is a period. Lifting a restriction fixes what it held (events received, the
backlog then, which is its peak since nothing starts while restricted, and the newest held
event); the drain ends when every event up to that one has left ``queued``, and the deliveries
that failed in it are counted then, once: a finished window's figures never change.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance.drain import Pace, pace
from portal.models import AuditEntry, MaintenanceState, MaintenanceWindow, RestrictionPeriod, User
from portal.models.events import DELIVERY_FAILED, EVENT_QUEUED
from portal.models.tables import deliveries, events

SCHEDULER = "scheduler"
WEB, CLI = "web", "cli"
SOMEONE_ELSE = "an administrator"  # a name a client-scoped viewer may not see


def actor_and_via(actor: User | str | None) -> tuple[str, str]:
    """Return who made a change and how: a user on the web, the shell, or the scheduler."""
    if isinstance(actor, User):
        return actor.email, WEB
    if actor == SCHEDULER:
        return SCHEDULER, SCHEDULER
    return actor or CLI, CLI


def shown_names(actors: Iterable[str | None], client_id: int | None) -> Callable[[str | None], str]:
    """Return how a viewer sees the recorded ``actors`` of windows: every name for an instance
    admin (``client_id`` None); else only the names of their own client's users (and "cli",
    "scheduler"), another client's people or an instance admin as "an administrator"."""
    if client_id is None:
        return lambda name: name or ""
    wanted = {name for name in actors if name}
    own = set(
        db.session.scalars(
            sa.select(User.email).where(User.client_id == client_id, User.email.in_(wanted))
        )
    )
    own.update((SCHEDULER, CLI))
    return lambda name: name if not name or name in own else SOMEONE_ELSE


def open_window() -> MaintenanceWindow | None:
    """Return the window in progress, if any."""
    return db.session.scalar(
        sa.select(MaintenanceWindow)
        .where(MaintenanceWindow.ended_at.is_(None))
        .order_by(MaintenanceWindow.id.desc())
        .limit(1)
    )


def record_change(
    state: MaintenanceState, actor: User | str | None, was_enabled: bool, was_paused: bool
) -> None:
    """Open or close the window and its restriction periods after ``state`` changed."""
    now = utc_now()
    name, via = actor_and_via(actor)
    window = open_window()
    if state.enabled and not was_enabled and window is None:
        window = MaintenanceWindow(started_at=now, started_by=name, started_via=via)
        db.session.add(window)
    if window is None:
        return
    paused = state.processing_paused
    current = _open_period(window)
    if paused and current is None:
        window.periods.append(RestrictionPeriod(started_at=now))
    elif not paused and current is not None:
        _lift(current, now)
    if was_enabled and not state.enabled:
        window.ended_at, window.ended_by, window.ended_via = now, name, via
        window.refused_signins = refused_signins(window.started_at, now)
        window.client_refused_signins = refused_signins_by_client(window.started_at, now)


def _open_period(window: MaintenanceWindow) -> RestrictionPeriod | None:
    return next((period for period in window.periods if period.ended_at is None), None)


def _lift(period: RestrictionPeriod, now: datetime) -> None:
    period.ended_at = now
    period.events_received = events_received(period.started_at, now)
    period.peak_backlog, period.last_held_id = backlog()
    if not period.peak_backlog:
        period.drained_at = now
        _fix_figures(period)


def events_received(start: datetime, end: datetime, client_id: int | None = None) -> int:
    """Return how many events arrived between ``start`` and ``end`` (of one client, if given)."""
    query = (
        sa.select(sa.func.count())
        .select_from(events)
        .where(events.c.received_at >= start, events.c.received_at <= end)
    )
    if client_id is not None:
        query = query.where(events.c.client_id == client_id)
    return db.session.scalar(query)


def backlog(up_to_id: int | None = None, client_id: int | None = None) -> tuple[int, int | None]:
    """Return how many events are still queued (up to an id; of one client, if given) and the
    newest of them."""
    query = sa.select(sa.func.count(), sa.func.max(events.c.id)).where(
        events.c.status == EVENT_QUEUED
    )
    if up_to_id is not None:
        query = query.where(events.c.id <= up_to_id)
    if client_id is not None:
        query = query.where(events.c.client_id == client_id)
    count, newest = db.session.execute(query).one()
    return int(count), newest


def refused_signins(start: datetime, end: datetime | None, client_id: int | None = None) -> int:
    """Return the refused sign-ins the audit log recorded between ``start`` and ``end`` (at the
    accounts of one client, if given)."""
    query = sa.select(sa.func.count(AuditEntry.id)).where(
        AuditEntry.module == "auth",
        AuditEntry.action == "login_refused",
        AuditEntry.created_at >= start,
    )
    if end is not None:
        query = query.where(AuditEntry.created_at <= end)
    if client_id is not None:
        query = query.where(AuditEntry.client_id == client_id)
    return db.session.scalar(query)


def refused_signins_by_client(start: datetime, end: datetime) -> dict[str, int]:
    """Return the refused sign-ins between ``start`` and ``end`` per client (at its accounts)."""
    query = (
        sa.select(AuditEntry.client_id, sa.func.count(AuditEntry.id))
        .where(
            AuditEntry.module == "auth",
            AuditEntry.action == "login_refused",
            AuditEntry.created_at >= start,
            AuditEntry.created_at <= end,
            AuditEntry.client_id.is_not(None),
        )
        .group_by(AuditEntry.client_id)
    )
    return {str(client_id): count for client_id, count in db.session.execute(query)}


def failed_in_drain(period: RestrictionPeriod, client_id: int | None = None) -> int:
    """Return the deliveries of held events (of one client, if given) that failed after the
    restriction was lifted: the instance's figure as fixed when the drain ended, or counted now
    while it goes on."""
    if client_id is None and period.failed_in_drain is not None:
        return period.failed_in_drain
    if period.ended_at is None or period.last_held_id is None:
        return 0
    query = (
        sa.select(sa.func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.event_id <= period.last_held_id,
            deliveries.c.created_at >= period.ended_at,
            deliveries.c.status == DELIVERY_FAILED,
        )
    )
    if client_id is not None:
        query = query.join_from(deliveries, events, deliveries.c.event_id == events.c.id).where(
            events.c.client_id == client_id
        )
    return db.session.scalar(query)


def observe_drains() -> None:
    """Mark lifted periods whose held events have all left ``queued`` as drained (commits)."""
    pending = db.session.scalars(
        sa.select(RestrictionPeriod).where(
            RestrictionPeriod.ended_at.is_not(None), RestrictionPeriod.drained_at.is_(None)
        )
    ).all()
    for period in pending:
        remaining, _ = backlog(period.last_held_id)
        if remaining:
            continue
        last = db.session.scalar(
            sa.select(sa.func.max(events.c.processed_at)).where(
                events.c.id <= period.last_held_id, events.c.processed_at >= period.ended_at
            )
        )
        period.drained_at = last or period.ended_at
        # Fixed now: a later retry or replay of these deliveries does not change the report.
        period.failed_in_drain = failed_in_drain(period)
        period.client_figures = {
            str(client_id): client_figures(period, client_id) for client_id in _clients_of(period)
        }
    if pending:
        db.session.commit()


def _clients_of(period: RestrictionPeriod) -> list[int]:
    """Return the clients with events received in ``period`` or held by it at the lift."""
    involved = events.c.received_at.between(period.started_at, period.ended_at)
    if period.last_held_id is not None:
        waiting = sa.or_(events.c.processed_at.is_(None), events.c.processed_at >= period.ended_at)
        involved = sa.or_(involved, sa.and_(events.c.id <= period.last_held_id, waiting))
    return list(db.session.scalars(sa.select(events.c.client_id).where(involved).distinct()))


def _fix_figures(period: RestrictionPeriod) -> None:
    """Record the drained period's figures, the instance's and each client's: from now on the
    report reads them, so later retries, replays and purges never change them."""
    period.failed_in_drain = failed_in_drain(period)
    period.client_figures = {
        str(client_id): client_figures(period, client_id) for client_id in _clients_of(period)
    }


NO_FIGURES = {"held": 0, "peak": 0, "drain_seconds": 0.0, "failed": 0}


def client_figures(period: RestrictionPeriod, client_id: int) -> dict:
    """Return one client's figures of a lifted period: its events received while restricted,
    its events still waiting when the restriction was lifted (ids up to ``last_held_id``, not
    processed before the lift), its drain (until the last of those was processed; None while
    some still wait) and its deliveries that failed in the drain."""
    held = events_received(period.started_at, period.ended_at, client_id)
    figures = {"held": held, "peak": 0, "drain_seconds": 0.0, "failed": 0}
    if period.last_held_id is None:
        return figures
    mine = (events.c.client_id == client_id, events.c.id <= period.last_held_id)
    waiting = sa.or_(events.c.processed_at.is_(None), events.c.processed_at >= period.ended_at)
    figures["peak"] = db.session.scalar(
        sa.select(sa.func.count()).select_from(events).where(*mine, waiting)
    )
    figures["failed"] = failed_in_drain(period, client_id)
    if backlog(period.last_held_id, client_id)[0]:
        figures["drain_seconds"] = None
        return figures
    last = db.session.scalar(
        sa.select(sa.func.max(events.c.processed_at)).where(
            *mine, events.c.processed_at >= period.ended_at
        )
    )
    figures["drain_seconds"] = (last - period.ended_at).total_seconds() if last else 0.0
    return figures


@dataclass
class Drain:
    """The drain in progress after a restriction was lifted, for the dashboard."""

    total: int
    remaining: int
    lifted_at: datetime
    eta_seconds: float | None
    pace: Pace | None = None  # the recent pace, stalls and failing endpoints

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * (self.total - self.remaining) / self.total)


def current_drain() -> Drain | None:
    """Return the newest lifted restriction whose held events are still being processed."""
    period = db.session.scalar(
        sa.select(RestrictionPeriod)
        .where(RestrictionPeriod.ended_at.is_not(None), RestrictionPeriod.drained_at.is_(None))
        .order_by(RestrictionPeriod.id.desc())
        .limit(1)
    )
    if period is None:
        return None
    remaining, _ = backlog(period.last_held_id)
    total = max(period.peak_backlog or 0, remaining)
    now = pace(period.last_held_id, period.ended_at, remaining)
    return Drain(total, remaining, period.ended_at, now.eta_seconds, now)


@dataclass
class Current:
    """What the dashboard shows about maintenance windows right now."""

    window: MaintenanceWindow | None
    elapsed_seconds: float | None
    drain: Drain | None
    started_by: str = ""  # as the viewer may see it (see shown_names)


def current_figures(state: MaintenanceState, *, client_id: int | None) -> Current:
    """Return the open window, who started it and its elapsed time, and (for instance admins,
    ``client_id`` None, since it counts every client's events) a drain in progress."""
    window = open_window() if state.enabled else None
    if window is None:
        return Current(window=None, elapsed_seconds=None, drain=_drain(client_id))
    elapsed = (utc_now() - window.started_at).total_seconds()
    started_by = shown_names([window.started_by], client_id)(window.started_by)
    return Current(window, elapsed, _drain(client_id), started_by)


def _drain(client_id: int | None) -> Drain | None:
    return current_drain() if client_id is None else None
