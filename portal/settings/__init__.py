"""The settings blueprint: maintenance mode and the admin pages, one module each."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

# One line per page module (importing registers its routes).
from portal.settings import maintenance  # noqa: E402,F401,I001
from portal.settings import users  # noqa: E402,F401
from portal.settings import roles  # noqa: E402,F401
from portal.settings import groups  # noqa: E402,F401
from portal.settings import clients  # noqa: E402,F401
from portal.settings import audit  # noqa: E402,F401
