"""Settings → Client Settings → Maintenance Mode."""

from flask import render_template

from portal.permissions import CLIENT_SETTINGS_MANAGE, permission_required
from portal.settings import bp


@bp.route("/maintenance", methods=["GET", "POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def maintenance():
    """Show and save the instance-wide maintenance state."""
    return render_template("settings/maintenance.html")
