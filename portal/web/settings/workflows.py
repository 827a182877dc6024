"""Settings → Workflows: what each client's events trigger."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.accounts.authorization import owned_or_404, rows_by_client, visible_clients
from portal.accounts.permissions import WORKFLOWS_MANAGE, permission_required
from portal.core.inputs import parse_id
from portal.events import automation
from portal.extensions import db
from portal.models import Workflow
from portal.security import reveals
from portal.web.settings import deletions
from portal.web.settings.blueprint import bp
from portal.web.settings.common import confirm_delete, reveal_page
from portal.web.settings.forms.common import ConfirmForm
from portal.web.settings.forms.workflows import WorkflowForm

REVEAL_KIND = "workflow-signing-secret"  # names the reveal, not a secret


@bp.route("/workflows")
@permission_required(WORKFLOWS_MANAGE)
def workflows():
    """List the workflows of every client the user may manage."""
    clients = visible_clients(current_user)
    by_client = rows_by_client(Workflow, clients)
    return render_template(
        "settings/workflows.html", clients=clients, by_client=by_client, confirm=ConfirmForm()
    )


@bp.route("/workflows/new", methods=["GET", "POST"])
@permission_required(WORKFLOWS_MANAGE)
def workflow_new():
    """Create a workflow."""
    form = WorkflowForm(visible_clients(current_user))
    if request.method == "GET":
        form.client_id.data = parse_id(request.args.get("client")) or current_user.client_id
    if form.validate_on_submit():
        workflow, secret = automation.save_workflow(
            current_user, None, form.values(), form.secret.data
        )
        db.session.commit()
        flash(f"Workflow {workflow.name} created.", "success")
        return _after_save(workflow, secret)
    return render_template("settings/workflows_form.html", form=form, workflow=None)


@bp.route("/workflows/<int:workflow_id>/edit", methods=["GET", "POST"])
@permission_required(WORKFLOWS_MANAGE)
def workflow_edit(workflow_id: int):
    """Edit a workflow."""
    workflow = owned_or_404(Workflow, workflow_id, current_user)
    form = WorkflowForm(visible_clients(current_user), editing_id=workflow.id)
    if request.method == "GET":
        form.load(workflow)
    if form.validate_on_submit():
        _, secret = automation.save_workflow(
            current_user, workflow, form.values(), form.secret.data
        )
        db.session.commit()
        flash(f"Workflow {workflow.name} saved.", "success")
        return _after_save(workflow, secret)
    return render_template("settings/workflows_form.html", form=form, workflow=workflow)


@bp.route("/workflows/<int:workflow_id>/toggle", methods=["POST"])
@permission_required(WORKFLOWS_MANAGE)
def workflow_toggle(workflow_id: int):
    """Enable a disabled workflow, or disable an enabled one."""
    workflow = owned_or_404(Workflow, workflow_id, current_user)
    if ConfirmForm().validate_on_submit():
        automation.set_workflow_enabled(current_user, workflow, not workflow.enabled)
        db.session.commit()
        state = "enabled" if workflow.enabled else "disabled"
        flash(f"Workflow {workflow.name} {state}.", "success")
    return redirect(url_for("settings.workflows"))


@bp.route("/workflows/<int:workflow_id>/delete", methods=["GET", "POST"])
@permission_required(WORKFLOWS_MANAGE)
def workflow_delete(workflow_id: int):
    """Ask for confirmation, then delete a workflow."""
    workflow = owned_or_404(Workflow, workflow_id, current_user)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = workflow.name
        automation.delete_workflow(current_user, workflow)
        db.session.commit()
        flash(f"Workflow {name} deleted.", "success")
        return redirect(url_for("settings.workflows"))
    return confirm_delete(
        title=f"Delete workflow {workflow.name}?",
        consequences=deletions.workflow_effects(workflow),
        button="Delete workflow",
        cancel_url=url_for("settings.workflows"),
        form=form,
    )


@bp.route("/workflows/<int:workflow_id>/secret")
@permission_required(WORKFLOWS_MANAGE)
def workflow_secret(workflow_id: int):
    """Show a workflow's newly generated signing secret to the session that made it."""
    workflow = owned_or_404(Workflow, workflow_id, current_user)
    return reveal_page(
        title=f"Signing secret of {workflow.name}",
        what="signing secret",
        secret=reveals.peek(REVEAL_KIND, workflow.id),
        input_id="signing-secret-value",
        usage="The receiver verifies each call's webhook-signature header with it (Standard "
        "Webhooks). The workflow's edit page also shows the current secret.",
        dismiss_url=url_for("settings.workflow_secret_dismiss", workflow_id=workflow.id),
        back_url=url_for("settings.workflows"),
    )


@bp.route("/workflows/<int:workflow_id>/secret/dismiss", methods=["POST"])
@permission_required(WORKFLOWS_MANAGE)
def workflow_secret_dismiss(workflow_id: int):
    """Stop showing a workflow's generated signing secret on its reveal page."""
    workflow = owned_or_404(Workflow, workflow_id, current_user)
    if ConfirmForm().validate_on_submit():
        reveals.dismiss(REVEAL_KIND, workflow.id)
        return redirect(url_for("settings.workflows"))
    return redirect(url_for("settings.workflow_secret", workflow_id=workflow.id))


def _after_save(workflow: Workflow, secret: str | None):
    """Go back to the list, or, when a signing secret was generated, to the page that shows it."""
    if not secret:
        return redirect(url_for("settings.workflows"))
    reveals.keep(REVEAL_KIND, workflow.id, secret)
    return redirect(url_for("settings.workflow_secret", workflow_id=workflow.id))
