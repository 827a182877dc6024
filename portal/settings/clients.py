"""Settings → Clients: list, create, edit the security policy, rotate the API key."""

import sqlalchemy as sa
from flask import flash, make_response, redirect, render_template, url_for

from portal.accounts import AccountError
from portal.clients import POLICY_FIELDS, create_client, rotate_api_key, set_policy, update_client
from portal.extensions import db
from portal.models import Client
from portal.operations.retention import set_retention
from portal.permissions import CLIENT_SETTINGS_MANAGE, permission_required
from portal.settings import bp
from portal.settings.common import commit_change, refuse
from portal.settings.forms.clients import ClientForm
from portal.settings.forms.common import ConfirmForm
from portal.snapshots import client_values


@bp.route("/clients")
@permission_required(CLIENT_SETTINGS_MANAGE)
def clients():
    """List the clients with their security policy."""
    rows = db.session.scalars(sa.select(Client).order_by(Client.name)).all()
    return render_template("settings/clients.html", clients=rows)


@bp.route("/clients/new", methods=["GET", "POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def client_new():
    """Create a client and show its API key once."""
    form = ClientForm()
    if form.validate_on_submit():
        try:
            client, key = create_client(form.name.data, form.contact_email.data)
            set_policy(client, **_policy(form))
            set_retention(client, form.retention_days.data)
        except AccountError as exc:
            refuse(form, exc)
        else:
            commit_change(
                "clients",
                "create",
                f"Created client {client.name}",
                after=client_values(client),
                client_id=client.id,
            )
            return _show_key(client, key, created=True)
    return render_template("settings/client_form.html", form=form, client=None)


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def client_edit(client_id: int):
    """Edit a client's name, contact and security policy."""
    client = db.get_or_404(Client, client_id)
    form = ClientForm(data=client_values(client))
    if form.validate_on_submit():
        before = client_values(client)
        try:
            update_client(client, form.name.data, form.contact_email.data, **_policy(form))
            set_retention(client, form.retention_days.data)
        except AccountError as exc:
            refuse(form, exc)
        else:
            commit_change(
                "clients",
                "update",
                f"Edited client {client.name}",
                before=before,
                after=client_values(client),
                client_id=client.id,
            )
            flash(f"Client {client.name} saved.", "success")
            return redirect(url_for("settings.clients"))
    return render_template("settings/client_form.html", form=form, client=client)


@bp.route("/clients/<int:client_id>/rotate-key", methods=["POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def client_rotate_key(client_id: int):
    """Replace a client's API key and show the new one once."""
    client = db.get_or_404(Client, client_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("settings.client_edit", client_id=client.id))
    key = rotate_api_key(client)
    commit_change(
        "clients", "rotate_key", f"Rotated the API key of {client.name}", client_id=client.id
    )
    return _show_key(client, key, created=False)


def _policy(form: ClientForm) -> dict:
    return {name: form[name].data for name in POLICY_FIELDS}


def _show_key(client: Client, key: str, *, created: bool):
    """Render the one page that ever shows the key; browsers must not cache it."""
    response = make_response(
        render_template("settings/client_key.html", client=client, key=key, created=created)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
