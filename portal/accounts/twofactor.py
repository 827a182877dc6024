"""Two-factor sign-in: a TOTP secret (RFC 6238, any authenticator app) and recovery codes.

A user enrols on ``/account/two-factor``: the page shows a QR code (an SVG drawn here) and the
secret as text, and turns the second factor on once a code from the app is confirmed. Then ten
single-use recovery codes are shown once; only their sha256 is stored. At sign-in, a TOTP code
or a recovery code is accepted once: the time step of the last accepted code is stored and a
code of that step or an earlier one is refused, and a recovery code is marked used. Both are
checked by a conditional UPDATE, so two requests with one code cannot both succeed.

Who must have a second factor: every user of a client with "Require two-factor sign-in", and,
with the instance setting ``REQUIRE_2FA_FOR_MANAGERS``, every holder of
``client_settings:manage``. Functions add to the session and flush; the caller commits.
"""

import hashlib
import io
import secrets
import time

import pyotp
import segno
import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup

from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import RecoveryCode, TwoFactor, User
from portal.security import sessions

ISSUER = "Gateway Portal"
RECOVERY_CODES = 10
# Codes of the step before and after the current one are accepted too (clock drift).
DRIFT_STEPS = 1
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt


def required(user: User) -> bool:
    """Return whether ``user`` must sign in with a second factor."""
    if user.client.require_two_factor:
        return True
    return bool(current_app.config["REQUIRE_2FA_FOR_MANAGERS"]) and user.can(CLIENT_SETTINGS_MANAGE)


def _row(user: User) -> TwoFactor | None:
    return db.session.get(TwoFactor, user.id)


def enrolled(user: User) -> bool:
    """Return whether ``user`` has a confirmed second factor."""
    return (
        db.session.scalar(
            sa.select(TwoFactor.user_id).where(
                TwoFactor.user_id == user.id, TwoFactor.confirmed_at.is_not(None)
            )
        )
        is not None
    )


def pending_secret(user: User) -> str:
    """Return the secret being enrolled (made on first ask, the same until confirmed)."""
    row = _row(user)
    if row is None:
        row = TwoFactor(user_id=user.id, secret=pyotp.random_base32())
        db.session.add(row)
        db.session.flush()
    return row.secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """Return the QR code of ``uri`` as inline SVG markup (no style attribute: the CSP holds)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", xmldecl=False, scale=4, dark="#000", light="#fff", nl=False,
        title="QR code for your authenticator app", svgclass="qr-code", lineclass=None,
    )  # fmt: skip
    # segno draws it from the URI's bits only (no text of ours is in the markup).
    return Markup(out.getvalue().decode())  # noqa: S704


def _clean(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """Return the time step whose TOTP code is ``code`` (near ``now``), else None."""
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now) // totp.interval
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def confirm(user: User, code: str) -> list[str] | None:
    """Turn the pending second factor on if ``code`` is right; return the new recovery codes
    (shown once), else None. Every other session of ``user`` ends."""
    row = _row(user)
    step = _matching_step(row.secret, _clean(code), time.time()) if row is not None else None
    if row is None or row.confirmed_at is not None or step is None:
        return None
    row.confirmed_at, row.last_step = utc_now(), step
    codes = new_recovery_codes(user)
    sessions.end_all(user)  # a session opened with the password alone does not outlive this
    return codes


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; return them (stored hashed)."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, digest=_digest(raw)))
    db.session.flush()
    return codes


def _digest(cleaned: str) -> str:
    return hashlib.sha256(cleaned.encode()).hexdigest()


def use_code(user: User, code: str) -> bool:
    """Accept ``code`` (a TOTP code or a recovery code) once: return whether it signs in."""
    cleaned = _clean(code)
    row = _row(user)
    if row is None or row.confirmed_at is None:
        return False
    step = _matching_step(row.secret, cleaned, time.time())
    if step is not None:
        table = TwoFactor.__table__
        taken = db.session.execute(
            sa.update(table)
            .where(table.c.user_id == user.id)
            .where(sa.or_(table.c.last_step.is_(None), table.c.last_step < step))
            .values(last_step=step)
        )
        return taken.rowcount == 1
    table = RecoveryCode.__table__
    taken = db.session.execute(
        sa.update(table)
        .where(table.c.user_id == user.id, table.c.digest == _digest(cleaned))
        .where(table.c.used_at.is_(None))
        .values(used_at=utc_now())
    )
    return taken.rowcount == 1


def recovery_codes_left(user: User) -> int:
    query = sa.select(sa.func.count()).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
    )
    return db.session.scalar(query)


def reset(user: User) -> None:
    """Remove ``user``'s second factor and recovery codes (an admin's reset); every session of
    theirs except the one ``user`` was loaded for ends."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(sa.delete(TwoFactor).where(TwoFactor.user_id == user.id))
    sessions.end_all(user)
