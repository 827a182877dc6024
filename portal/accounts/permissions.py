"""The permission catalogue, the built-in roles, and the view decorator that enforces them."""

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

from portal.extensions import login_manager

DASHBOARD_VIEW = "dashboard:view"
EVENTS_VIEW = "events:view"
WORKFLOWS_MANAGE = "workflows:manage"
USERS_MANAGE = "users:manage"
CLIENT_SETTINGS_MANAGE = "client_settings:manage"
AUDIT_VIEW = "audit:view"

CATALOGUE: dict[str, str] = {
    DASHBOARD_VIEW: "View the dashboard",
    EVENTS_VIEW: "View events and deliveries",
    WORKFLOWS_MANAGE: "Manage workflows and scheduled triggers",
    USERS_MANAGE: "Manage users, roles and access groups",
    CLIENT_SETTINGS_MANAGE: "Manage clients, security policy and maintenance mode",
    AUDIT_VIEW: "View the audit log",
}

BUILTIN_ROLES: dict[str, list[str]] = {
    "Administrator": list(CATALOGUE),
    "Operator": [DASHBOARD_VIEW, EVENTS_VIEW, WORKFLOWS_MANAGE],
    "Viewer": [DASHBOARD_VIEW, EVENTS_VIEW],
}
ADMIN_ROLE = "Administrator"
ADMIN_GROUP = "Administrators"


def permission_required(code: str) -> Callable:
    """Refuse the view with 403 unless the signed-in user holds ``code`` (sign-in first)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(code):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = code  # read by the route inventory test
        return wrapped

    return decorator


def any_permission_required(*codes: str) -> Callable:
    """Refuse the view with 403 unless the signed-in user holds one of ``codes``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(current_user.can(code) for code in codes):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = codes  # read by the route inventory test
        return wrapped

    return decorator
