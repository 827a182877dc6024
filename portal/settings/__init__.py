"""The settings blueprint: maintenance mode and the admin pages, one module each."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

from portal.settings import maintenance  # noqa: E402,F401  (registers the routes)
from portal.settings import workflows  # noqa: E402,F401
from portal.settings import triggers  # noqa: E402,F401
