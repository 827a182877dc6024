"""What a destructive action (a delete, a key rotation) takes with it, in the words of the
confirmation page.

Each function reads the row as it stands and returns sentences; whether the delete is allowed
at all is not decided here but by running the delete itself (``common.dry_run``), so the page
and the POST cannot disagree.
"""

from datetime import timedelta

import sqlalchemy as sa

from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE
from portal.core import timefmt
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import Selection, load_state, may_bypass
from portal.models import (
    AccessGroup,
    Client,
    Delivery,
    Event,
    Role,
    ScheduledTrigger,
    User,
    UserSession,
    Workflow,
)
from portal.models.events import DELIVERY_PENDING

NAMED = 5  # users named on the page; the rest are counted
RECENT = timedelta(hours=24)  # how far back a key rotation counts the events sent with the key


def user_effects(user: User) -> list[str]:
    """Say what goes with a user: their open sessions; what stays."""
    sessions = db.session.scalar(
        sa.select(sa.func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
    )
    return [
        f"{user.email} can no longer sign in; {_count(sessions, 'open session')} "
        f"{'ends' if sessions == 1 else 'end'} at once (remember-me cookies included).",
        "Their roles and access groups stay; only their memberships go.",
        "Audit entries about them and their changes stay in the audit log.",
    ]


def key_rotation_effects(client: Client) -> list[str]:
    """Say what rotating a client's API key breaks: every sender still using the current key."""
    recent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(Event.client_id == client.id, Event.received_at >= utc_now() - RECENT)
    )
    prefix = client.api_key_prefix or "—"
    return [
        f"The current key (starting {prefix}) stops working at once: every device or system "
        "that posts events with it is refused (401) until it has the new key.",
        f"{client.name} received {_count(recent, 'event')} in the last 24 hours.",
        "The new key is shown once, on its own page, until you dismiss it.",
    ]


def role_effects(role: Role, viewer: User) -> list[str]:
    """Say who loses a role, what they lose with it, and what it changes in maintenance."""
    lines = [_members("role", role.users, viewer)]
    lost = [set(role.permissions) - _other_permissions(user, role) for user in role.users]
    losing = [codes for codes in lost if codes]
    if losing:
        codes = sorted(set().union(*losing))
        verb = "loses" if len(losing) == 1 else "lose"
        lines.append(
            f"{len(losing)} of them {verb} permissions no other role of theirs grants "
            f"({', '.join(codes)})."
        )
    stranded = [user for user in role.users if len(user.roles) == 1]
    if stranded:
        lines.append(f"{_count(len(stranded), 'user')} would have no role left.")
    return lines + _bypass_effects(role, "role", role.users)


def group_effects(group: AccessGroup, viewer: User) -> list[str]:
    """Say who loses an access group and what it changes in maintenance."""
    lines = [_members("access group", group.users, viewer)]
    stranded = [user for user in group.users if len(user.groups) == 1]
    if stranded:
        lines.append(f"{_count(len(stranded), 'user')} would have no access group left.")
    return lines + _bypass_effects(group, "access group", group.users)


def workflow_effects(workflow: Workflow) -> list[str]:
    """Say what happens to a workflow's deliveries."""
    counts = dict(
        db.session.execute(
            sa.select(Delivery.status, sa.func.count())
            .where(Delivery.workflow_id == workflow.id)
            .group_by(Delivery.status)
        ).all()
    )
    pending = counts.pop(DELIVERY_PENDING, 0)
    done = sum(counts.values())
    lines = ["The workflow stops at once: no new event runs it."]
    lines.append(
        f"{_count(done, 'past delivery', 'past deliveries')} "
        f"{'stays' if done == 1 else 'stay'} in the history, without the workflow."
    )
    if pending:
        lines.append(
            f"{_count(pending, 'delivery', 'deliveries')} still waiting to be sent "
            f"{'is not sent: it fails' if pending == 1 else 'are not sent: they fail'}."
        )
    return lines


def trigger_effects(trigger: ScheduledTrigger) -> list[str]:
    """Say what stops with a trigger and what stays."""
    nxt = trigger.next_fire_at
    when = f" (it would next fire at {timefmt.text(nxt)})" if trigger.enabled and nxt else ""
    return [
        f"The trigger stops firing at once{when}.",
        f"Events it already emitted ({trigger.event_type}) stay, with their deliveries.",
    ]


def _members(label: str, users: list[User], viewer: User) -> str:
    if not users:
        return f"No user has this {label}."
    if viewer.can(CLIENT_SETTINGS_MANAGE):
        named = users
    else:  # another client's users are counted, not named (as in the maintenance preview)
        named = [user for user in users if user.client_id == viewer.client_id]
    emails = sorted(user.email for user in named)[:NAMED]
    rest = len(users) - len(emails)
    who = ", ".join(emails) + (f" and {_count(rest, 'other')}" if rest and emails else "")
    who = who or _count(rest, "user") + " of other clients"
    verb = "loses" if len(users) == 1 else "lose"
    return f"{_count(len(users), 'user')} {verb} this {label}: {who}."


def _other_permissions(user: User, role: Role) -> set[str]:
    return {code for other in user.roles if other.id != role.id for code in other.permissions}


def _bypass_effects(row: Role | AccessGroup, label: str, users: list[User]) -> list[str]:
    """Say whether the row is a maintenance bypass choice and whom it would shut out now."""
    state = load_state()
    roles, groups = list(state.bypass_roles), list(state.bypass_groups)
    if row not in roles + groups:
        return []
    lines = [f"It is a maintenance bypass {label}: it leaves the bypass selection."]
    if state.enabled:
        after = Selection([r for r in roles if r is not row], [g for g in groups if g is not row])
        shut_out = [
            user
            for user in users
            if user.active and may_bypass(user, state) and not may_bypass(user, after)
        ]
        lines.append(
            f"Maintenance is on: {_count(len(shut_out), 'user')} who can sign in only through "
            f"this {label} would be signed out at their next request."
        )
    return lines


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
