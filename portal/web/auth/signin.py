"""Deciding a sign-in attempt: throttle, lockout, password, active flag and the maintenance rule.

A user with a second factor signs in in two steps: the password (:func:`attempt_sign_in`
answers ``SECOND_FACTOR``) and then a code (:func:`attempt_second_factor`). The second step
reserves its attempt like the password (the same throttle and lockout count it), and the
account's failures are cleared only when it succeeds, so knowing the password gives no extra
guesses at the code. During maintenance a blocked user is refused at the password step, with the
one line every refusal shows, so the second step is never an oracle for the password either.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from portal import accounts, audit
from portal.accounts import passwords, twofactor
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import load_state, may_bypass
from portal.models import User
from portal.security import signins

# Checked when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = passwords.hash_password("not-a-real-password")

OK = "ok"
WRONG = "wrong"  # unknown email, wrong password or inactive account
LOCKED = "locked"
MAINTENANCE = "maintenance"
THROTTLED = "throttled"  # too many failures from the address: answered 429, nothing checked
SECOND_FACTOR = "second_factor"  # the password was right: the code is asked next


@dataclass
class Attempt:
    outcome: str
    user: User | None
    maintenance: bool  # maintenance was on: every refusal must look the same
    wait: int = 0  # THROTTLED: the seconds until the address may try again


def attempt_sign_in(email: str, password: str, address: str, known_device: bool) -> Attempt:
    """Decide a sign-in from ``address`` and record it; the caller logs the user in and commits.

    ``known_device``: the browser carries this account's device cookie (an earlier sign-in).
    The attempt's failure is recorded (and committed) before its password is checked, and given
    back if the password is right: see ``portal.security.signins``.
    """
    state = load_state()
    user = accounts.find_user(email)
    now = utc_now()
    held = signins.reserve(address, user, now, known_device=known_device)
    if held.wait:
        return Attempt(THROTTLED, None, state.enabled, wait=held.wait)
    wrong_password = False
    if user is None or held.locked:
        # The same cost as checking a password, without checking this account's.
        passwords.check_password_hash_only(_DUMMY_HASH, password)
        outcome = LOCKED if user is not None else WRONG
    elif not passwords.check_password(user, password):
        wrong_password, outcome = True, WRONG
    elif not user.active:
        signins.throttle_only(held)  # only a wrong password counts toward the lockout
        outcome = WRONG
    elif not may_bypass(user, state):
        signins.release(held)  # a right password: not counted toward the lockout or throttle
        outcome = MAINTENANCE
    elif twofactor.enrolled(user):
        signins.release(held)  # the failures stay until the code is right too
        return Attempt(SECOND_FACTOR, user, state.enabled)
    else:
        outcome = _succeed(user, address, now)
    if wrong_password:
        _show_to_admins(user, address, now)
    _record(user, email, outcome, address)
    return Attempt(outcome, user, state.enabled)


def attempt_second_factor(user_id: int, code: str, address: str, known_device: bool) -> Attempt:
    """Decide the second step for the user whose password was right; the caller logs in and
    commits. Counted toward the throttle and lockout exactly like a password attempt."""
    state = load_state()
    user = db.session.get(User, user_id)
    now = utc_now()
    held = signins.reserve(address, user, now, known_device=known_device)
    if held.wait:
        return Attempt(THROTTLED, None, state.enabled, wait=held.wait)
    wrong_code = False
    if user is None or held.locked:
        outcome = LOCKED if user is not None else WRONG
    elif not twofactor.use_code(user, code):
        wrong_code, outcome = True, WRONG
    elif not user.active:
        signins.throttle_only(held)
        outcome = WRONG
    elif not may_bypass(user, state):  # maintenance began between the two steps
        signins.release(held)
        outcome = MAINTENANCE
    else:
        outcome = _succeed(user, address, now)
    if wrong_code:
        _show_to_admins(user, address, now)
    _record(user, user.email if user else "", outcome, address, step="code")
    return Attempt(outcome, user, state.enabled)


def _succeed(user: User, address: str, now: datetime) -> str:
    signins.forget_failures(user, address)
    user.failed_logins = 0
    user.last_signed_in_at = now  # the users list's "Last signed in"
    return OK


def _record(user: User | None, email: str, outcome: str, address: str, step: str = "") -> None:
    how = " with a second factor" if step else ""
    if outcome == OK:
        audit.record(user, "auth", "login", f"Signed in{how} from {address}")
        return
    what = f"{outcome}, {step}" if step else outcome
    audit.record(
        accounts.normalize_email(email)[:255] or "(empty)",
        "auth",
        "login_refused",
        f"Sign-in refused ({what}) from {address}",
        client_id=user.client_id if user else None,
    )


def _show_to_admins(user: User, address: str, now: datetime) -> None:
    # The users page shows these: failures since the last success from any address, and until
    # when some address is locked out of the account (the owner elsewhere can still sign in).
    user.failed_logins += 1
    if signins.locked_for(user, address, now):
        until = now + timedelta(minutes=user.client.lockout_minutes)
        user.locked_until = max(user.locked_until or until, until)
