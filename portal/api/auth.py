"""Personal access tokens on the API: ``Authorization: Bearer gpat_...``.

The order of the refusals: no usable token (401), maintenance blocks its user (503, the same
bypass rule as for a session: a token is never a way around maintenance), then the scope: the
token must carry it and its user must still hold the permission behind it (403).
"""

from collections.abc import Callable
from functools import wraps

from flask import g, jsonify, request

from portal import audit
from portal.accounts import tokens
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import display_message, load_state, may_bypass
from portal.security import signins

BEARER = "bearer "
MISSING = "An Authorization: Bearer gpat_... header with a personal access token is required."


def _error(status: int, error: str, **extra):
    return jsonify(error=error, details=[], **extra), status


def has_bearer() -> bool:
    """Return whether the request offers a token (then the token alone decides)."""
    return request.headers.get("Authorization", "").lower().startswith(BEARER)


def authenticate(scope: str):
    """Return the request's token if it may use ``scope`` now, else the JSON refusal."""
    header = request.headers.get("Authorization", "")
    secret = header[len(BEARER) :].strip() if header.lower().startswith(BEARER) else ""
    token = tokens.lookup(secret) if secret else None
    if token is None:
        return _error(401, MISSING if not secret else "Unknown personal access token.")
    now = utc_now()
    if token.revoked_at is not None or not token.active:
        return _error(401, "This personal access token was revoked.")
    if token.expires_at <= now:
        return _error(401, "This personal access token has expired.")
    # the request hook has read the flags (and, while maintenance is on, the state): no second
    # read; the user's roles and groups are loaded only while it is on (else it lets all in)
    state = g.get("maintenance") or load_state()
    if state.enabled and not may_bypass(token.user, state):
        return _error(503, "maintenance", message=display_message(state))
    if scope not in token.scopes:
        return _error(403, f"This token does not have the scope {scope}.", scope=scope)
    if not tokens.permits(token.permissions, scope):
        needed = tokens.SCOPES[scope]
        return _error(
            403,
            f"The scope {scope} needs the permission {needed}, which {token.user.email} does "
            "not hold now.",
            scope=scope,
        )
    if tokens.note_use(token, signins.source(request.remote_addr), now):
        db.session.commit()
    g.api_token = token
    return token


def token_required(scope: str) -> Callable:
    """Run the view for a token that may use ``scope`` (``g.api_token``); audit entries the
    view records name the token."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            found = authenticate(scope)
            if not isinstance(found, tokens.Access):
                return found
            with audit.through_token(found.name):
                return view(*args, **kwargs)

        wrapped.required_scope = scope
        return wrapped

    return decorator
