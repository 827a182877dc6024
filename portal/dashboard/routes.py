"""The dashboard."""

from flask import Blueprint, render_template
from flask_login import current_user

from portal.permissions import DASHBOARD_VIEW, permission_required

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@permission_required(DASHBOARD_VIEW)
def index():
    """Show who you are, your client and the maintenance state."""
    return render_template("dashboard/index.html", user=current_user)
