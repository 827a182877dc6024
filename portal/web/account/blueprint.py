"""The ``/account`` blueprint: the signed-in user's own pages register their routes on it."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")
