"""The settings blueprint: every admin page under ``/settings`` registers its routes on it."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")
