"""Changes an admin may not make: leaving nobody who can manage client settings, or locking
themselves out while maintenance is on.

The checks look at the state as it would be after the change (flushed, not yet committed),
so every way of getting there (editing a user, a role, deleting a role) is caught by one rule.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from portal.accounts import AccountError
from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE
from portal.extensions import db
from portal.maintenance.rule import Selection, may_bypass
from portal.maintenance.state import load_state
from portal.models import MaintenanceState, Role, User
from portal.models.accounts import user_roles

LAST_MANAGER = (
    "This change is refused: it would leave no active user who can manage client settings "
    "(a role with the client_settings:manage permission) and can sign in under the "
    "current maintenance state."
)
SELF_LOCKOUT = (
    "This change is refused: maintenance mode is on and you would lock yourself out "
    "(you would no longer hold a bypass role and a bypass group)."
)
NOT_YOURSELF = "You cannot deactivate or delete your own account."


def managers_who_could_sign_in(state: MaintenanceState | Selection) -> int:
    """Return how many active ``client_settings:manage`` holders ``may_bypass`` lets in under
    ``state`` (the saved state, or a selection as it would be once it starts)."""
    role_ids = [
        role.id
        for role in db.session.scalars(sa.select(Role))
        if CLIENT_SETTINGS_MANAGE in role.permissions
    ]
    if not role_ids:
        return 0
    holders = sa.select(user_roles.c.user_id).where(user_roles.c.role_id.in_(role_ids))
    managers = db.session.scalars(
        sa.select(User).where(User.active.is_(True), User.id.in_(holders))
    )
    return sum(1 for user in managers if may_bypass(user, state))


def settings_manager_count() -> int:
    """Return how many active users with ``client_settings:manage`` can sign in right now: the
    maintenance state as it stands in this session (flushed changes included) must let them."""
    return managers_who_could_sign_in(load_state())


@contextmanager
def guarded(actor: User | None) -> Iterator[None]:
    """Run the change in the block, then raise AccountError if the result breaks a guardrail.

    The caller rolls the session back on AccountError. ``actor`` None (the server shell)
    skips the self-lockout check, as the CLI does for maintenance.
    """
    had_manager = settings_manager_count() > 0
    yield
    db.session.flush()
    db.session.expire_all()  # re-read memberships and bypass lists as they are now
    if actor is not None and not may_bypass(actor, load_state()):
        raise AccountError(SELF_LOCKOUT)
    if had_manager and settings_manager_count() == 0:
        raise AccountError(LAST_MANAGER)


def check_not_self(actor: User | None, user: User) -> None:
    """Refuse deactivating or deleting the account that is making the change."""
    if actor is not None and actor.id == user.id:
        raise AccountError(NOT_YOURSELF)
