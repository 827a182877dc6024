"""Settings and Settings → Client Settings: the overview pages of the menu's two groups."""

from flask import abort, render_template

from portal.accounts.permissions import any_permission_required
from portal.maintenance import load_state
from portal.web import navigation
from portal.web.settings.blueprint import bp


def _overview(page: navigation.Page, **context) -> str:
    """Render ``page``'s sub-pages the user may open, under their section headings."""
    sections = navigation.sections(page)
    if not sections:  # only when the blueprint of every page the user may open is missing
        abort(403)
    return render_template("settings/overview.html", page=page, sections=sections, **context)


@bp.route("")
@any_permission_required(*navigation.SETTINGS.permissions)
def index():
    """List the settings pages the user may open, grouped, each with a line about it."""
    return _overview(navigation.SETTINGS)


@bp.route("/client-settings")
@any_permission_required(*navigation.CLIENT_SETTINGS.permissions)
def client_settings():
    """Show the maintenance state and the client settings pages the user may open."""
    return _overview(navigation.CLIENT_SETTINGS, state=load_state())
