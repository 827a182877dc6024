"""The sign-in gates: a user must first choose their own password, or enrol a second factor.

While ``User.must_change_password`` is set, every page of a signed-in session redirects to the
own-password page (``/auth/password``), which clears the flag. Then, while a user who must sign
in with a second factor (``portal.accounts.twofactor.required``) has none, every page redirects
to the enrolment page (``/account/two-factor``). Key-authenticated API calls have no session
and are not affected.
"""

from flask import Flask, jsonify, redirect, request, url_for
from flask_login import current_user

from portal.accounts import twofactor
from portal.maintenance import SESSIONLESS_ENDPOINTS

# Reachable with either gate closed: signing out, static files, the health check and the open
# pages' poll (its answer is JSON, never a page to go to).
OPEN = {"auth.logout", "auth.login", "static", "api.healthz", "live.state"}
PASSWORD_PAGES = {"auth.change_password"}
ENROLMENT_PAGES = {
    "account_security.two_factor",
    "account_security.recovery_codes",
    "account_security.recovery_codes_dismiss",
}


def require_password_change():
    """Send a signed-in user who must change their password (or, after that, enrol a second
    factor) to the page that does it."""
    if request.endpoint in SESSIONLESS_ENDPOINTS or request.endpoint in OPEN:
        return None
    if not current_user.is_authenticated:
        return None
    if current_user.must_change_password:
        if request.endpoint in PASSWORD_PAGES:
            return None
        return _send("auth.change_password", "Choose a new password at /auth/password first.")
    if request.endpoint in ENROLMENT_PAGES or not twofactor.required(current_user):
        return None
    if twofactor.enrolled(current_user):
        return None
    return _send(
        "account_security.two_factor",
        "Set up two-factor sign-in at /account/two-factor first.",
        error="two-factor enrolment required",
    )


def _send(endpoint: str, message: str, error: str = "password change required"):
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=error, message=message, details=[]), 403
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for(endpoint, next=target))


def init_app(app: Flask) -> None:
    # After the maintenance hook: a user it signs out is not sent to the password page first.
    app.before_request(require_password_change)
