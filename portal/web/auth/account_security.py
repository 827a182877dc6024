"""The signed-in user's own security pages: ``/account/two-factor`` and ``/account/sessions``."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from portal import audit
from portal.accounts import twofactor
from portal.extensions import db
from portal.security import browsers, reveals, sessions
from portal.web.auth.forms import EnrolForm
from portal.web.forms import Form

bp = Blueprint("account_security", __name__, url_prefix="/account")

CODES_REVEAL = "recovery-codes"


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    """Enrol a second factor: the QR code and secret, then one code from the app turns it on."""
    user = current_user._get_current_object()
    if twofactor.enrolled(user):
        return render_template(
            "account/two_factor.html",
            enrolled=True,
            codes_left=twofactor.recovery_codes_left(user),
            required=twofactor.required(user),
        )
    form = EnrolForm()
    secret = twofactor.pending_secret(user)
    if form.validate_on_submit():
        codes = twofactor.confirm(user, form.code.data)
        if codes is not None:
            audit.record(
                user,
                "users",
                "two_factor",
                f"Turned on two-factor sign-in for {user.email}",
                after={"two_factor": True},
                client_id=user.client_id,
            )
            db.session.commit()
            reveals.keep(CODES_REVEAL, user.id, "\n".join(codes))
            flash("Two-factor sign-in is on. Your other sessions were signed out.", "success")
            return redirect(url_for("account_security.recovery_codes"))
        form.code.errors.append("That code is not right: check the app's clock and try again.")
    db.session.commit()  # the pending secret stays the same on a reload
    uri = twofactor.provisioning_uri(user, secret)
    return render_template(
        "account/two_factor.html",
        enrolled=False,
        form=form,
        secret=secret,
        qr=twofactor.qr_svg(uri),
        required=twofactor.required(user),
    )


@bp.route("/two-factor/recovery-codes")
@login_required
def recovery_codes():
    """Show the new recovery codes to the session that made them, until dismissed."""
    held = reveals.peek(CODES_REVEAL, current_user.id)
    return render_template(
        "account/recovery_codes.html",
        codes=held.split("\n") if held else None,
        form=Form(),
    )


@bp.route("/two-factor/recovery-codes/dismiss", methods=["POST"])
@login_required
def recovery_codes_dismiss():
    if Form().validate_on_submit():
        reveals.dismiss(CODES_REVEAL, current_user.id)
        flash("Your recovery codes are no longer shown.", "info")
    return redirect(url_for("account_security.two_factor"))


@bp.route("/sessions")
@login_required
def open_sessions():
    """List the user's open sessions, this one first marked."""
    user = current_user._get_current_object()
    return render_template(
        "account/sessions.html",
        rows=session_rows(user),
        current=sessions.digest_of(user),
        form=Form(),
    )


@bp.route("/sessions/<session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: str):
    """Sign out one of the user's other sessions (this one signs out with "Sign out")."""
    user = current_user._get_current_object()
    if Form().validate_on_submit():
        if session_id == sessions.digest_of(user) or not sessions.is_row_id(session_id):
            flash("Use “Sign out” to end this session.", "info")
        elif sessions.end_by_id(user, session_id):
            audit.record(user, "auth", "session_end", "Signed out another session")
            db.session.commit()
            flash("That session is signed out.", "success")
        else:
            flash("That session had already ended.", "info")
    return redirect(url_for("account_security.open_sessions"))


@bp.route("/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    """Sign out every session of the user but this one."""
    user = current_user._get_current_object()
    if Form().validate_on_submit():
        sessions.end_all(user)
        audit.record(user, "auth", "session_end", "Signed out all other sessions")
        db.session.commit()
        flash("All your other sessions are signed out.", "success")
    return redirect(url_for("account_security.open_sessions"))


def session_rows(user) -> list[dict]:
    """Return what the sessions tables show of ``user``'s sessions (also the user's page)."""
    return [
        {
            "id": row.id,
            "browser": browsers.describe(row.user_agent),
            "user_agent": row.user_agent,
            "address": row.address or "unknown",
            "created_at": row.created_at,
            "last_seen_at": row.last_seen_at,
        }
        for row in sessions.open_sessions(user)
    ]
