"""The navigation: each entry is shown only to users who hold its permission."""

from flask import Flask, current_app, url_for
from flask_login import current_user

from portal.permissions import (
    AUDIT_VIEW,
    CLIENT_SETTINGS_MANAGE,
    DASHBOARD_VIEW,
    EVENTS_VIEW,
    USERS_MANAGE,
    WORKFLOWS_MANAGE,
)

ENTRIES: list[tuple[str | tuple[str, ...], str, str]] = [
    (DASHBOARD_VIEW, "dashboard.index", "Dashboard"),
    (EVENTS_VIEW, "event_log.index", "Events"),
    (USERS_MANAGE, "settings.users", "Users"),
    (USERS_MANAGE, "settings.roles", "Roles"),
    (USERS_MANAGE, "settings.groups", "Access groups"),
    (CLIENT_SETTINGS_MANAGE, "settings.clients", "Clients"),
    (CLIENT_SETTINGS_MANAGE, "settings.maintenance", "Maintenance Mode"),
    (WORKFLOWS_MANAGE, "settings.workflows", "Workflows"),
    (WORKFLOWS_MANAGE, "settings.triggers", "Triggers"),
    (AUDIT_VIEW, "settings.audit", "Audit log"),
    ((CLIENT_SETTINGS_MANAGE, AUDIT_VIEW), "settings.maintenance_windows", "Maintenance windows"),
]


def nav_items() -> list[tuple[str, str, str]]:
    """Return (endpoint, url, label) for each page the current user may open."""
    if not current_user.is_authenticated:
        return []
    return [
        (endpoint, url_for(endpoint), label)
        for permission, endpoint, label in ENTRIES
        if endpoint in current_app.view_functions and _may(permission)
    ]


def _may(permission: str | tuple[str, ...]) -> bool:
    codes = permission if isinstance(permission, tuple) else (permission,)
    return any(current_user.can(code) for code in codes)


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"nav_items": nav_items})
