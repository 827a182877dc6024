"""Settings → Users → a user's second factor and open sessions: reset it, end them (audited)."""

from flask import flash, redirect, url_for
from flask_login import current_user

from portal.accounts import AccountError, twofactor
from portal.accounts.authorization import check_may_manage_user, owned_or_404
from portal.accounts.permissions import USERS_MANAGE, permission_required
from portal.models import User
from portal.security import sessions
from portal.web.settings.blueprint import bp
from portal.web.settings.common import commit_change, refuse
from portal.web.settings.forms.common import ConfirmForm


def _allowed(user: User, action: str) -> bool:
    """Return whether the admin may ``action`` on ``user`` (a refusal is flashed and audited)."""
    if not ConfirmForm().validate_on_submit():
        return False
    try:
        check_may_manage_user(set(current_user.permissions), user, action)
    except AccountError as exc:
        refuse(None, exc)
        flash(str(exc), "error")
        return False
    return True


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@permission_required(USERS_MANAGE)
def user_two_factor_reset(user_id: int):
    """Remove a user's second factor (a lost phone); they enrol again, every session ends."""
    user = owned_or_404(User, user_id, current_user)
    if _allowed(user, "reset the second factor of"):
        was_on = twofactor.enrolled(user)
        twofactor.reset(user)  # an admin resetting their own keeps this session only
        commit_change(
            "users",
            "two_factor_reset",
            f"Reset the second factor of {user.email}",
            before={"two_factor": was_on},
            after={"two_factor": False},
            client_id=user.client_id,
        )
        flash(f"The second factor of {user.email} is reset; they enrol again.", "success")
    return redirect(url_for("settings.user_edit", user_id=user.id) + "#two-factor")


@bp.route("/users/<int:user_id>/sessions/<session_id>/end", methods=["POST"])
@permission_required(USERS_MANAGE)
def user_session_end(user_id: int, session_id: str):
    """End one open session of a user."""
    user = owned_or_404(User, user_id, current_user)
    if _allowed(user, "sign out") and sessions.is_row_id(session_id):
        if sessions.end_by_id(user, session_id):
            commit_change(
                "users",
                "session_end",
                f"Signed out a session of {user.email}",
                client_id=user.client_id,
            )
            flash(f"That session of {user.email} is signed out.", "success")
        else:
            flash("That session had already ended.", "info")
    return redirect(url_for("settings.user_edit", user_id=user.id) + "#sessions")
