"""Short addresses people type: ``/login`` leads to the sign-in page."""

from flask import Blueprint, redirect, request, url_for

from portal.web.auth.routes import safe_next

bp = Blueprint("aliases", __name__)


@bp.get("/login")
def login():
    """Redirect to ``/auth/login``, keeping ``next`` when it is a local path."""
    target = request.args.get("next")
    keep = target if target and safe_next(target) == target else None
    return redirect(url_for("auth.login", next=keep), 301)
