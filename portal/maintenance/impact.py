"""What a proposed maintenance change would do, computed from the database now.

The settings page shows it on its review step, before the admin confirms: who is signed out,
whose event processing pauses (or which held events are released), and who is blocked or still
gets in. Every "who" asks :func:`may_bypass`, like the request hook that enforces the state.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from portal.core import timefmt
from portal.events import counters
from portal.extensions import db
from portal.maintenance.changes import ClientAudience, audience, normalize_message, proposal
from portal.maintenance.rule import may_bypass
from portal.maintenance.state import notice_from
from portal.models import Client, MaintenanceState, User, UserSession


@dataclass
class Impact:
    """The effect of a proposed change; with ``scheduled_start``, the effect at that time."""

    changes: list[str]  # one line per field that changes, but the message (below)
    on_after: bool  # maintenance is on after the change (or at the scheduled start)
    ends: bool  # the change turns maintenance off
    scheduled_start: datetime | None = None
    notice_from: datetime | None = None
    signed_out: int = 0  # signed-in users it would sign out
    pauses: bool = False  # processing pauses for every client (the restriction is global)
    lifts: bool = False  # the restriction is lifted: held events are released
    stays_paused: bool = False
    restrict_later: bool = False  # restriction saved while off: it applies at the next start
    clients: int = 0
    queued: int = 0  # events queued now: held from the pause, or released by the lift
    queued_clients: int = 0  # clients with queued events
    own_allowed: list[str] = field(default_factory=list)
    own_blocked: list[str] = field(default_factory=list)
    others: list[ClientAudience] = field(default_factory=list)
    # the message's text before and after, when it changes: the review step shows both
    message_change: tuple[str, str] | None = None

    @property
    def nothing(self) -> bool:
        return not self.changes and self.message_change is None

    @property
    def summary(self) -> list[str]:
        """Return every change as one line, the message's as "changed" (its text is long)."""
        return self.changes + (["Maintenance message: changed"] if self.message_change else [])


def describe(
    state: MaintenanceState, changes: dict, admin: User, when: Callable | None = None
) -> Impact:
    """Return what applying ``changes`` (fields of ``update_state``) to ``state`` would do;
    ``when`` writes the times of its lines (default: UTC, as the API answers them)."""
    after = {**_fields(state), **changes}
    after["message"] = normalize_message(after["message"])
    if after["enabled"]:
        after["scheduled_start"] = None  # started now: nothing stays pending
    on_after = bool(after["enabled"] or after["scheduled_start"])
    if not on_after:
        after["expected_end"] = None  # dropped with its window, as update_state does
    paused_after = bool(on_after and after["restrict_event_processor"])
    impact = Impact(
        changes=_changed(_fields(state), after, when or _when),
        on_after=on_after,
        ends=bool(state.enabled and not after["enabled"]),
        scheduled_start=after["scheduled_start"],
        notice_from=notice_from(after["scheduled_start"], after["notice_minutes"]),
        restrict_later=bool(after["restrict_event_processor"] and not on_after),
    )
    if (state.message or "") != after["message"]:
        impact.message_change = (state.message or "", after["message"])
    if impact.nothing:
        return impact
    impact.pauses = paused_after and not state.processing_paused
    impact.lifts = state.processing_paused and not paused_after
    impact.stays_paused = paused_after and state.processing_paused
    queued = counters.figures(list(db.session.scalars(sa.select(Client.id))))
    impact.clients = len(queued)
    impact.queued = sum(figures["queued"] for figures in queued.values())
    impact.queued_clients = sum(1 for figures in queued.values() if figures["queued"])
    if on_after:
        _audience(impact, state, proposal(after["bypass_roles"], after["bypass_groups"]), admin)
    return impact


def _fields(state: MaintenanceState) -> dict:
    return {
        "enabled": bool(state.enabled),
        "restrict_event_processor": bool(state.restrict_event_processor),
        "message": state.message or "",
        "bypass_roles": list(state.bypass_roles),
        "bypass_groups": list(state.bypass_groups),
        "scheduled_start": state.scheduled_start,
        "notice_minutes": state.notice_minutes,
        "expected_end": state.expected_end,
    }


def _changed(before: dict, after: dict, when: Callable) -> list[str]:
    """Return one line per field the change alters, as the admin reads it (the message
    apart: ``Impact.message_change``)."""
    lines = []
    for name, label in (("enabled", "Maintenance mode"), ("restrict_event_processor", None)):
        if bool(before[name]) != bool(after[name]):
            label = label or "Restrict event processor"
            lines.append(f"{label}: {_on(before[name])} → {_on(after[name])}")
    for name, label in (("bypass_roles", "Bypass roles"), ("bypass_groups", "Bypass groups")):
        old, new = _names(before[name]), _names(after[name])
        if old != new:
            lines.append(f"{label}: {old or 'none'} → {new or 'none'}")
    for name, label in (("scheduled_start", "Scheduled start"), ("expected_end", "Expected end")):
        if before[name] != after[name]:
            old, new = when(before[name]) or "none", when(after[name]) or "none"
            lines.append(f"{label}: {old} → {new}")
    if before["notice_minutes"] != after["notice_minutes"]:
        lines.append(
            f"Advance notice: {before['notice_minutes']} → {after['notice_minutes']} minutes"
        )
    return lines


def _on(value: bool) -> str:
    return "on" if value else "off"


def _names(rows: list) -> str:
    return ", ".join(sorted(row.name for row in rows))


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""


def _audience(impact: Impact, state: MaintenanceState, selection, admin: User) -> None:
    """Fill in who is blocked and who still gets in, and how many sessions are ended."""
    found = audience(selection, admin.client_id)
    signed_in = set(db.session.scalars(sa.select(UserSession.user_id).distinct()))
    # a user the current state already blocks is signed out by it, not by this change
    impact.signed_out = sum(
        1 for user in found.blocked if user.id in signed_in and may_bypass(user, state)
    )
    impact.own_allowed, impact.own_blocked = found.own_allowed, found.own_blocked
    impact.others = found.others


def processing_effect(enabled: bool, restrict: bool, scheduled_start: datetime | None) -> str:
    """Return what the event-processor restriction means in this state, in one sentence."""
    if enabled:
        if restrict:
            return "Maintenance is on: processing is paused and incoming events are held."
        return "Maintenance is on: processing runs (tick this to pause it and hold new events)."
    if scheduled_start is not None:
        when = f"when maintenance starts at {timefmt.text(scheduled_start)}"
    else:
        when = "when maintenance is next turned on"
    if restrict:
        return (
            f"Maintenance is off: processing runs; {when}, processing will pause and events "
            "will be held."
        )
    return f"Maintenance is off: processing runs, and keeps running {when}."
