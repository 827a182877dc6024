"""The settings blueprint: maintenance mode and the admin pages, one module each."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

# Importing the page modules registers their routes on ``bp``.
from portal.web.settings import (  # noqa: E402,F401
    audit,
    clients,
    groups,
    maintenance,
    overview,
    roles,
    triggers,
    user_security,
    users,
    windows,
    workflows,
)
