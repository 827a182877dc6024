"""Changing the maintenance state and previewing its effect (settings page and CLI).

The bypass rule itself stays in :mod:`portal.maintenance`; everything here asks ``may_bypass``.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal import audit
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import notices, windows
from portal.maintenance.guardrails import guarded
from portal.maintenance.rule import Selection, may_bypass
from portal.maintenance.state import MAX_NOTICE_MINUTES, get_or_create_state
from portal.models import AccessGroup, Client, MaintenanceState, Role, User
from portal.models.maintenance import STATE_ID

FIELDS = (
    "enabled",
    "restrict_event_processor",
    "message",
    "bypass_roles",
    "bypass_groups",
    "scheduled_start",
    "notice_minutes",
    "expected_end",
)
MAX_AHEAD = timedelta(days=365)
MAX_MESSAGE_LENGTH = 2000
UNAVAILABLE = "Maintenance mode is not available on this instance; it cannot be enabled."


class MaintenanceError(ValueError):
    """A change that may not be saved; the message is shown to the user as is.

    ``field`` names the input it is about, when there is one (the API's 400 names it).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LockoutError(MaintenanceError):
    """The change would lock out the person saving it."""


LOCKOUT = (
    "Not saved: you would lock yourself out. While maintenance mode is on, only users holding "
    "one of the selected bypass roles AND one of the selected bypass access groups can sign in "
    "or keep using the portal, and you do not. Select one of your roles and one of your groups, "
    "or leave maintenance mode off."
)


def proposal(roles: list[Role], groups: list[AccessGroup]) -> Selection:
    """Return this selection as ``may_bypass`` sees it while maintenance is on."""
    return Selection(bypass_roles=list(roles), bypass_groups=list(groups))


def would_lock_out(
    admin: User, enabled: bool, roles: list[Role], groups: list[AccessGroup]
) -> bool:
    """Return whether saving this state would refuse ``admin`` at their next request."""
    return enabled and not may_bypass(admin, proposal(roles, groups))


@dataclass
class ClientAudience:
    """Another client's active users under a selection: counts only, never names."""

    name: str
    allowed: int = 0
    blocked: int = 0


@dataclass
class Audience:
    """Who a selection lets in while maintenance is on: the own client's users by email, other
    clients as counts, and the blocked users themselves (for the review step's sign-out count)."""

    own_allowed: list[str] = field(default_factory=list)
    own_blocked: list[str] = field(default_factory=list)
    others: list[ClientAudience] = field(default_factory=list)
    blocked: list[User] = field(default_factory=list)


def audience(selection: Selection, own_client_id: int | None) -> Audience:
    """Ask ``may_bypass`` about every active user with ``selection``: the one place the settings
    page's preview and its review step learn who gets in and who is blocked."""
    result = Audience()
    others = {
        client.id: ClientAudience(client.name)
        for client in db.session.scalars(sa.select(Client).order_by(Client.name))
        if client.id != own_client_id
    }
    users = db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.email))
    for user in users:
        allowed = may_bypass(user, selection)
        if not allowed:
            result.blocked.append(user)
        if user.client_id == own_client_id:
            (result.own_allowed if allowed else result.own_blocked).append(user.email)
        elif user.client_id in others:
            others[user.client_id].allowed += allowed
            others[user.client_id].blocked += not allowed
    result.others = list(others.values())
    return result


@dataclass
class Preview:
    """Who could sign in with a selection: own client's users by email, others as counts."""

    own_client: Client | None
    own_users: list[str] = field(default_factory=list)
    other_clients: list[tuple[str, int]] = field(default_factory=list)


def who_can_sign_in(
    roles: list[Role], groups: list[AccessGroup], own_client: Client | None
) -> Preview:
    """Return the active users ``may_bypass`` lets in while maintenance is on with these."""
    found = audience(proposal(roles, groups), own_client.id if own_client else None)
    return Preview(
        own_client=own_client,
        own_users=found.own_allowed,
        other_clients=[(other.name, other.allowed) for other in found.others],
    )


def normalize_message(message: str) -> str:
    """Return the message as stored: plain text with ``\\n`` line breaks, no outer blank space."""
    return (message or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def check_schedule(
    state: MaintenanceState, start: datetime | None, notice: int | None, now: datetime
) -> None:
    """Refuse a scheduled start in the past, more than a year ahead, or while already on,
    and a notice period that is negative or longer than a week."""
    if notice is not None and not 0 <= notice <= MAX_NOTICE_MINUTES:
        raise MaintenanceError(
            f"The notice period must be between 0 and {MAX_NOTICE_MINUTES} minutes (a week).",
            "notice_minutes",
        )
    if start is None:
        return
    if state.enabled:
        raise MaintenanceError(
            "Maintenance mode is already on: a start can only be scheduled while it is off.",
            "scheduled_start",
        )
    if start <= now:
        raise MaintenanceError(
            "The start time is in the past; choose a time in the future (UTC).", "scheduled_start"
        )
    if start - now > MAX_AHEAD:
        raise MaintenanceError("The start time is more than a year ahead.", "scheduled_start")


def check_changes(state: MaintenanceState, changes: dict, *, available: bool = True) -> None:
    """Refuse ``changes`` that may not be saved (raise MaintenanceError naming the field);
    normalise the message in place. :func:`update_state` asks it first, whoever saves."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise TypeError(f"Unknown maintenance fields: {', '.join(sorted(unknown))}")
    scheduling = changes.get("scheduled_start") is not None
    if (changes.get("enabled", state.enabled) or scheduling) and not available:
        raise MaintenanceError(UNAVAILABLE)
    if "message" in changes:
        changes["message"] = normalize_message(changes["message"])
        if len(changes["message"]) > MAX_MESSAGE_LENGTH:
            raise MaintenanceError(
                f"The message may have at most {MAX_MESSAGE_LENGTH} characters.", "message"
            )
    now = utc_now()
    if scheduling and changes["scheduled_start"] != state.scheduled_start:
        check_schedule(state, changes["scheduled_start"], changes.get("notice_minutes"), now)
    elif "notice_minutes" in changes:
        check_schedule(state, None, changes["notice_minutes"], now)
    check_expected_end(state, changes, now)


def check_expected_end(state: MaintenanceState, changes: dict, now: datetime) -> None:
    """Refuse a new expected end in the past, not after the scheduled start, or without
    maintenance on or scheduled (an unchanged one is dropped with its window instead)."""
    end = changes.get("expected_end", state.expected_end)
    if end is None:
        return
    enabled = changes.get("enabled", state.enabled)
    start = None if enabled else changes.get("scheduled_start", state.scheduled_start)
    moved = end != state.expected_end
    if not enabled and start is None:
        if moved:
            raise MaintenanceError(
                "An expected end needs maintenance mode on or a scheduled start; leave it "
                "empty otherwise.",
                "expected_end",
            )
        return
    if moved and end <= now:
        raise MaintenanceError(
            "The expected end is in the past; choose a time in the future, or leave it empty.",
            "expected_end",
        )
    if start is not None and end <= start and (moved or start != state.scheduled_start):
        raise MaintenanceError(
            "The expected end must be after the scheduled start.", "expected_end"
        )


def update_state(
    state: MaintenanceState,
    actor: User | str | None,
    *,
    available: bool = True,
    email_users: bool = True,
    **changes,
) -> tuple[dict, dict] | None:
    """Apply ``changes`` (any of FIELDS) to ``state`` and audit them; return (before, after).

    Return None when nothing changed. ``actor`` None is the server shell ("cli"), the string
    ``"scheduler"`` a scheduled start. Enabling or scheduling is refused when maintenance mode
    is not ``available``; turning it off always works. ``email_users``: queue the maintenance
    notices this change calls for (``portal.maintenance.notices``; nothing while mail is off), in
    the same transaction. The caller commits.
    """
    check_changes(state, changes, available=available)
    now = utc_now()
    before = state.to_dict()
    was_enabled, was_paused = bool(state.enabled), bool(state.processing_paused)
    for name, value in changes.items():
        setattr(state, name, list(value) if name.startswith("bypass_") else value)
    if state.enabled:
        state.scheduled_start = None  # started (now or by the scheduler): nothing is pending
    elif state.scheduled_start is None:
        state.expected_end = None  # it belonged to the window that ended (or never came)
    if state.to_dict() == before:
        return None
    if state.enabled and not was_enabled:
        state.enabled_since = now
    elif not state.enabled:
        state.enabled_since = None
    if state.enabled or state.scheduled_start is not None:
        state.schedule_cancelled_at = state.schedule_cancelled_reason = None
    state.changed_at = now
    state.changed_by = windows.actor_and_via(actor)[0]
    after = state.to_dict()
    action = _action(before, after)
    audit.record(actor, "maintenance", action, _describe(action, after), before=before, after=after)
    windows.record_change(state, actor, was_enabled, was_paused)
    db.session.flush()
    by_scheduler = actor == windows.SCHEDULER
    notices.after_change(state, before, after, by_scheduler=by_scheduler, email_users=email_users)
    return before, after


def lock_state() -> MaintenanceState:
    """Take the write lock on the state row first, then read it fresh: a save that checks the
    version it was based on (a form's, an ``If-Match``) cannot interleave with another save."""
    db.session.execute(
        sa.update(MaintenanceState)
        .where(MaintenanceState.id == STATE_ID)
        .values(id=STATE_ID)
        .execution_options(synchronize_session=False)
    )
    state = get_or_create_state()
    db.session.refresh(state)
    return state


def starts(state: MaintenanceState, changes: dict) -> bool:
    """Return whether the state after ``changes`` is on, or scheduled to start."""
    return bool(
        changes.get("enabled", state.enabled)
        or changes.get("scheduled_start", state.scheduled_start) is not None
    )


def save_by(
    actor: User,
    state: MaintenanceState,
    changes: dict,
    *,
    available: bool,
    email_users: bool = True,
) -> tuple[dict, dict] | None:
    """Save a person's change (the page's, the API's) with every guard: no self-lockout
    (:class:`LockoutError`), nobody left to end it (``AccountError`` from the guardrails), then
    :func:`update_state`'s own checks. The caller commits, or rolls back on an error."""
    check_changes(state, changes, available=available)  # bad input before the lockout
    roles = changes.get("bypass_roles", state.bypass_roles)
    groups = changes.get("bypass_groups", state.bypass_groups)
    if would_lock_out(actor, starts(state, changes), list(roles), list(groups)):
        raise LockoutError(LOCKOUT)
    with guarded(actor):
        return update_state(state, actor, available=available, email_users=email_users, **changes)


def _action(before: dict, after: dict) -> str:
    if before["enabled"] != after["enabled"]:
        return "enable" if after["enabled"] else "disable"
    if before["scheduled_start"] != after["scheduled_start"]:
        return "schedule" if after["scheduled_start"] else "unschedule"
    return "update"


def _describe(action: str, after: dict) -> str:
    return {
        "enable": "Enabled maintenance mode",
        "disable": "Disabled maintenance mode",
        "schedule": f"Scheduled maintenance mode to start at {after['scheduled_start']}",
        "unschedule": "Cancelled the scheduled start of maintenance mode",
    }.get(action, "Changed maintenance settings")
