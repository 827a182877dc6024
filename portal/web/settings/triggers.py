"""Settings → Triggers: events each client emits on a schedule."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.accounts.authorization import owned_or_404, rows_by_client, visible_clients
from portal.accounts.permissions import WORKFLOWS_MANAGE, permission_required
from portal.core.inputs import parse_id
from portal.events import automation
from portal.events.trigger_schedule import describe
from portal.extensions import db
from portal.models import ScheduledTrigger
from portal.web.settings import deletions
from portal.web.settings.blueprint import bp
from portal.web.settings.common import confirm_delete
from portal.web.settings.forms.common import ConfirmForm
from portal.web.settings.forms.triggers import TriggerForm


@bp.route("/triggers")
@permission_required(WORKFLOWS_MANAGE)
def triggers():
    """List the scheduled triggers of every client the user may manage."""
    clients = visible_clients(current_user)
    by_client = rows_by_client(ScheduledTrigger, clients)
    return render_template(
        "settings/triggers.html",
        clients=clients,
        by_client=by_client,
        confirm=ConfirmForm(),
        describe=describe,
    )


@bp.route("/triggers/new", methods=["GET", "POST"])
@permission_required(WORKFLOWS_MANAGE)
def trigger_new():
    """Create a scheduled trigger."""
    form = TriggerForm(visible_clients(current_user))
    if request.method == "GET":
        form.client_id.data = parse_id(request.args.get("client")) or current_user.client_id
    if form.validate_on_submit():
        trigger = automation.save_trigger(current_user, None, form.values())
        db.session.commit()
        flash(f"Trigger {trigger.name} created.", "success")
        return redirect(url_for("settings.triggers"))
    return render_template("settings/triggers_form.html", form=form, trigger=None)


@bp.route("/triggers/<int:trigger_id>/edit", methods=["GET", "POST"])
@permission_required(WORKFLOWS_MANAGE)
def trigger_edit(trigger_id: int):
    """Edit a scheduled trigger."""
    trigger = owned_or_404(ScheduledTrigger, trigger_id, current_user)
    form = TriggerForm(visible_clients(current_user), editing_id=trigger.id)
    if request.method == "GET":
        form.load(trigger)
    if form.validate_on_submit():
        automation.save_trigger(current_user, trigger, form.values())
        db.session.commit()
        flash(f"Trigger {trigger.name} saved.", "success")
        return redirect(url_for("settings.triggers"))
    return render_template("settings/triggers_form.html", form=form, trigger=trigger)


@bp.route("/triggers/<int:trigger_id>/toggle", methods=["POST"])
@permission_required(WORKFLOWS_MANAGE)
def trigger_toggle(trigger_id: int):
    """Enable a disabled trigger, or disable an enabled one."""
    trigger = owned_or_404(ScheduledTrigger, trigger_id, current_user)
    if ConfirmForm().validate_on_submit():
        automation.set_trigger_enabled(current_user, trigger, not trigger.enabled)
        db.session.commit()
        state = "enabled" if trigger.enabled else "disabled"
        flash(f"Trigger {trigger.name} {state}.", "success")
    return redirect(url_for("settings.triggers"))


@bp.route("/triggers/<int:trigger_id>/delete", methods=["GET", "POST"])
@permission_required(WORKFLOWS_MANAGE)
def trigger_delete(trigger_id: int):
    """Ask for confirmation, then delete a scheduled trigger."""
    trigger = owned_or_404(ScheduledTrigger, trigger_id, current_user)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = trigger.name
        automation.delete_trigger(current_user, trigger)
        db.session.commit()
        flash(f"Trigger {name} deleted.", "success")
        return redirect(url_for("settings.triggers"))
    return confirm_delete(
        title=f"Delete trigger {trigger.name}?",
        consequences=deletions.trigger_effects(trigger),
        button="Delete trigger",
        cancel_url=url_for("settings.triggers"),
        form=form,
    )
