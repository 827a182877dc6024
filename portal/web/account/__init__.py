"""The signed-in user's own pages under ``/account``: settings and personal access tokens."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from portal.web.account import routes, tokens  # noqa: E402,F401  (registers the routes)
