"""Deciding a sign-in attempt: password, lockout, active flag and the maintenance rule."""

from dataclasses import dataclass

from portal import accounts, audit, passwords
from portal.clock import utc_now
from portal.maintenance import load_state, may_bypass
from portal.models import User

# Checked when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = passwords.hash_password("not-a-real-password")

OK = "ok"
WRONG = "wrong"  # unknown email, wrong password or inactive account
LOCKED = "locked"
MAINTENANCE = "maintenance"


@dataclass
class Attempt:
    outcome: str
    user: User | None
    maintenance: bool  # maintenance was on: every refusal must look the same


def attempt_sign_in(email: str, password: str) -> Attempt:
    """Decide a sign-in and record it; the caller logs the user in and commits."""
    state = load_state()
    user = accounts.find_user(email)
    now = utc_now()
    if user is None:
        passwords.check_password_hash_only(_DUMMY_HASH, password)
        outcome = WRONG
    elif user.is_locked(now):
        passwords.check_password(user, password)  # same cost as the other refusals
        outcome = LOCKED
    elif not passwords.check_password(user, password):
        passwords.register_failed_login(user, now)
        outcome = WRONG
    elif not user.active:
        outcome = WRONG
    elif not may_bypass(user, state):
        outcome = MAINTENANCE  # a right password: not counted toward the lockout
    else:
        passwords.register_successful_login(user)
        outcome = OK
    if outcome == OK:
        audit.record(user, "auth", "login", "Signed in")
    else:
        audit.record(
            accounts.normalize_email(email)[:255] or "(empty)",
            "auth",
            "login_refused",
            f"Sign-in refused ({outcome})",
            client_id=user.client_id if user else None,
        )
    return Attempt(outcome, user, state.enabled)
