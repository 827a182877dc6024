"""Settings → Clients: list, create, edit the security policy, rotate the API key."""

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for

from portal.accounts import AccountError
from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE, permission_required
from portal.audit.snapshots import client_values
from portal.clients import POLICY_FIELDS, create_client, rotate_api_key, set_policy, update_client
from portal.extensions import db
from portal.models import Client
from portal.operations.retention import set_retention
from portal.security import reveals
from portal.web.settings import deletions
from portal.web.settings.blueprint import bp
from portal.web.settings.common import commit_change, confirm_delete, refuse, reveal_page
from portal.web.settings.forms.clients import ClientForm
from portal.web.settings.forms.common import ConfirmForm

KEY_REVEAL = "client-api-key"


@bp.route("/clients")
@permission_required(CLIENT_SETTINGS_MANAGE)
def clients():
    """List the clients with their security policy."""
    rows = db.session.scalars(sa.select(Client).order_by(Client.name)).all()
    return render_template("settings/clients.html", clients=rows)


@bp.route("/clients/new", methods=["GET", "POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def client_new():
    """Create a client, then show its API key on the page that reveals it once."""
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
            flash(f"Client {client.name} created.", "success")
            return _reveal_key(client, key)
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


@bp.route("/clients/<int:client_id>/rotate-key", methods=["GET", "POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def client_rotate_key(client_id: int):
    """Ask first (the current key stops working at once); then replace the key and show the new
    one on the page that reveals it once."""
    client = db.get_or_404(Client, client_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return confirm_delete(
            title=f"Rotate the API key of {client.name}?",
            consequences=deletions.key_rotation_effects(client),
            button="Rotate key",
            cancel_url=url_for("settings.client_edit", client_id=client.id),
            form=form,
        )
    key = rotate_api_key(client)
    commit_change(
        "clients", "rotate_key", f"Rotated the API key of {client.name}", client_id=client.id
    )
    flash(f"The API key of {client.name} was rotated; the old key no longer works.", "success")
    return _reveal_key(client, key)


@bp.route("/clients/<int:client_id>/key")
@permission_required(CLIENT_SETTINGS_MANAGE)
def client_key(client_id: int):
    """Show the client's new API key to the session that made it, until dismissed."""
    client = db.get_or_404(Client, client_id)
    return reveal_page(
        title=f"API key of {client.name}",
        what="API key",
        secret=reveals.peek(KEY_REVEAL, client.id),
        input_id="api-key-value",
        usage=f"Devices and upstream systems of {client.name} send it in the X-API-Key header "
        "of POST /api/v1/events. It is stored only as a hash: once dismissed, nobody can show "
        "it again (rotate the key to get a new one).",
        dismiss_url=url_for("settings.client_key_dismiss", client_id=client.id),
        back_url=url_for("settings.client_edit", client_id=client.id),
    )


@bp.route("/clients/<int:client_id>/key/dismiss", methods=["POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def client_key_dismiss(client_id: int):
    """Forget the client's new API key (the admin has stored it)."""
    client = db.get_or_404(Client, client_id)
    if ConfirmForm().validate_on_submit():
        reveals.dismiss(KEY_REVEAL, client.id)
        flash(f"The API key of {client.name} is no longer shown.", "info")
        return redirect(url_for("settings.clients"))
    return redirect(url_for("settings.client_key", client_id=client.id))


def _policy(form: ClientForm) -> dict:
    return {name: form[name].data for name in POLICY_FIELDS}


def _reveal_key(client: Client, key: str):
    """Hold the new key for this session and redirect to the page that shows it (a reload
    shows it again instead of submitting the form twice)."""
    reveals.keep(KEY_REVEAL, client.id, key)
    return redirect(url_for("settings.client_key", client_id=client.id))
