"""The signed-in user's own pages under ``/account``."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from portal.account import tokens  # noqa: E402,F401  (registers the routes)
