"""The password-change gate: a user whose password an admin set must choose their own first.

While ``User.must_change_password`` is set, every page of a signed-in session redirects to the
own-password page (``/auth/password``), which clears the flag. Key-authenticated API calls have
no session and are not affected.
"""

from flask import Flask, jsonify, redirect, request, url_for
from flask_login import current_user

from portal.maintenance import SESSIONLESS_ENDPOINTS

# Reachable with the flag set: the password page itself, signing out, static files, the
# health check and the open pages' poll (its answer is JSON, never a page to go to).
ALLOWED_ENDPOINTS = {
    "auth.change_password",
    "auth.logout",
    "auth.login",
    "static",
    "api.healthz",
    "live.state",
}


def require_password_change():
    """Send a signed-in user who must change their password to the password page."""
    if request.endpoint in SESSIONLESS_ENDPOINTS or request.endpoint in ALLOWED_ENDPOINTS:
        return None
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        message = "Choose a new password at /auth/password first."
        return jsonify(error="password change required", message=message, details=[]), 403
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.change_password", next=target))


def init_app(app: Flask) -> None:
    # After the maintenance hook: a user it signs out is not sent to the password page first.
    app.before_request(require_password_change)
