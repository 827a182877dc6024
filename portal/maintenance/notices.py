"""Maintenance notices by email: the portal's own messages to its users, not event processing,
so they go out whatever the restriction.

Queued in the transaction that saves the change (``portal.maintenance.changes.update_state``):

* a scheduled start: every active user, at the notice time (the start minus the notice period);
  a blocked user reads that they cannot work from the start, a bypass user that they may keep
  working. A later change of the plan cancels the notices not sent yet and queues new ones;
  cancelling the schedule cancels them.
* a start now (not by the scheduler, whose start the notice announced): every active user.
* the end: every active user.

Users who turned maintenance emails off on ``/account`` get none. No message names the bypass
roles or groups, nor who else may work.
"""

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.mail import configured, outbox
from portal.mail.messages import render
from portal.maintenance.rule import Selection, may_bypass
from portal.maintenance.state import MAX_NOTICE_MINUTES, display_message, notice_from
from portal.models import MaintenanceState, MaintenanceWindow, User
from portal.models.mail import CANCELLED, OutboxMessage

NOTICE, STARTED, ENDED = "maintenance-notice", "maintenance-started", "maintenance-ended"
TOPICS = (NOTICE, STARTED, ENDED)
SUBJECTS = {
    "scheduled": "Maintenance starts at {start} UTC",
    "started": "Maintenance has started",
    "ended": "Maintenance has ended",
}
_TOPIC = {"scheduled": NOTICE, "started": STARTED, "ended": ENDED}


def plan(fields: dict) -> tuple:
    """Return what a scheduled notice says and when: a change of it re-plans the notices."""
    return (
        fields.get("scheduled_start"),
        fields.get("message"),
        tuple(sorted(_names(fields.get("bypass_roles")))),
        tuple(sorted(_names(fields.get("bypass_groups")))),
        fields.get("notice_minutes"),
    )


def _names(values) -> list[str]:
    return [value if isinstance(value, str) else value.name for value in values or []]


def kind(before: dict, after: dict, *, by_scheduler: bool = False) -> str | None:
    """Return which notice a change from ``before`` to ``after`` sends (None: none)."""
    if before["enabled"] and not after["enabled"]:
        return "ended"
    if after["enabled"] and not before["enabled"]:
        return None if by_scheduler else "started"
    if not after["enabled"] and after.get("scheduled_start") and plan(before) != plan(after):
        return "scheduled"
    return None


def recipients() -> list[User]:
    """Return the active users who want maintenance emails."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.active.is_(True), User.maintenance_emails.is_(True))
            .order_by(User.id)
        )
    )


def planned_count(notice: str | None) -> int:
    """Return how many emails a change that sends ``notice`` queues (the review step)."""
    if notice is None or not configured():
        return 0
    return len(recipients())


def after_change(
    state: MaintenanceState, before: dict, after: dict, *, by_scheduler: bool, email_users: bool
) -> int:
    """Queue (and cancel) notices for a saved change of ``state``; return how many queued."""
    notice = kind(before, after, by_scheduler=by_scheduler)
    if by_scheduler and after["enabled"] and not before["enabled"]:
        _attach_to_window()  # the notices announced this start: they count toward its window
    replanned = plan(before) != plan(after) and not after["enabled"]
    if notice in ("scheduled", "started") or (replanned and not by_scheduler):
        outbox.cancel_pending(NOTICE)  # the old plan's notices, not sent yet
    if notice is None or not email_users or not configured():
        return 0
    selection = Selection(list(state.bypass_roles), list(state.bypass_groups), enabled=True)
    start = state.scheduled_start
    context = {
        "kind": notice,
        "message": display_message(state),
        "start": f"{start:%Y-%m-%d %H:%M}" if start else "",
    }
    subject = SUBJECTS[notice].format(**context)
    messages = []
    for user in recipients():
        bypass = notice != "ended" and may_bypass(user, selection)
        messages.append((user.email, render("maintenance", subject, bypass=bypass, **context)))
    send_after = notice_from(start, state.notice_minutes) if notice == "scheduled" else None
    window = None if notice == "scheduled" else _latest_window()
    return outbox.enqueue_many(_TOPIC[notice], messages, send_after=send_after, window_id=window)


def _latest_window() -> int | None:
    return db.session.scalar(
        sa.select(MaintenanceWindow.id).order_by(MaintenanceWindow.id.desc()).limit(1)
    )


def _attach_to_window() -> None:
    """Count the scheduled start's notices (queued at most a notice period before) toward the
    window it opened."""
    window = db.session.scalar(
        sa.select(MaintenanceWindow).order_by(MaintenanceWindow.id.desc()).limit(1)
    )
    if window is None:
        return
    since = window.started_at - timedelta(minutes=MAX_NOTICE_MINUTES)
    rows = OutboxMessage.__table__
    db.session.execute(
        sa.update(rows)
        .where(
            rows.c.topic == NOTICE,
            rows.c.window_id.is_(None),
            rows.c.status != CANCELLED,
            rows.c.created_at >= since,
        )
        .values(window_id=window.id)
    )


def window_counts(window_id: int, client_id: int | None = None) -> dict[str, int]:
    """Return the window's notices by status (``sent``, ``failed``, ``pending``): to every
    user (``client_id`` None) or to one client's users."""
    rows = OutboxMessage.__table__
    query = (
        sa.select(rows.c.status, sa.func.count())
        .where(rows.c.window_id == window_id)
        .group_by(rows.c.status)
    )
    if client_id is not None:
        emails = sa.select(User.email).where(User.client_id == client_id)
        query = query.where(rows.c.to_address.in_(emails))
    counts = db.session.execute(query).all()
    return {status: count for status, count in counts}
