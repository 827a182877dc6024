"""Deciding a sign-in attempt: throttle, lockout, password, active flag and the maintenance rule."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from portal import accounts, audit, passwords
from portal.clock import utc_now
from portal.maintenance import load_state, may_bypass
from portal.models import User
from portal.security import signins

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


def attempt_sign_in(email: str, password: str, address: str, known_device: bool) -> Attempt:
    """Decide a sign-in from ``address`` and record it; the caller logs the user in and commits.

    ``known_device``: the browser carries this account's device cookie (an earlier sign-in).
    """
    state = load_state()
    user = accounts.find_user(email)
    now = utc_now()
    wrong_password = False
    if user is None:
        passwords.check_password_hash_only(_DUMMY_HASH, password)
        outcome = WRONG
    elif signins.locked_for(user, address, now) or (
        not known_device and signins.under_attack(user, now)
    ):
        passwords.check_password(user, password)  # same cost as the other refusals
        outcome = LOCKED
    elif not passwords.check_password(user, password):
        wrong_password, outcome = True, WRONG
    elif not user.active:
        outcome = WRONG
    elif not may_bypass(user, state):
        outcome = MAINTENANCE  # a right password: not counted toward the lockout or throttle
    else:
        signins.forget_failures(user, address)
        user.failed_logins = 0
        user.last_signed_in_at = now  # the users list's "Last signed in"
        outcome = OK
    if outcome in (WRONG, LOCKED):
        # Only a wrong password counts toward the account's lockout; every refusal here
        # counts toward the address's throttle.
        signins.record_failure(address, user, now, counts=wrong_password)
    if wrong_password:
        _show_to_admins(user, address, now)
    if outcome == OK:
        audit.record(user, "auth", "login", f"Signed in from {address}")
    else:
        audit.record(
            accounts.normalize_email(email)[:255] or "(empty)",
            "auth",
            "login_refused",
            f"Sign-in refused ({outcome}) from {address}",
            client_id=user.client_id if user else None,
        )
    return Attempt(outcome, user, state.enabled)


def _show_to_admins(user: User, address: str, now: datetime) -> None:
    # The users page shows these: failures since the last success from any address, and until
    # when some address is locked out of the account (the owner elsewhere can still sign in).
    user.failed_logins += 1
    if signins.locked_for(user, address, now):
        until = now + timedelta(minutes=user.client.lockout_minutes)
        user.locked_until = max(user.locked_until or until, until)
