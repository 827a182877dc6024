"""Events page views: thin wrappers around :mod:`portal.events.browse` and ``operations``."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.accounts.authorization import owned_or_404, visible_clients
from portal.accounts.permissions import EVENTS_VIEW, WORKFLOWS_MANAGE, permission_required
from portal.core.inputs import MAX_BIG_ID, parse_id
from portal.events import browse, operations, recovery
from portal.extensions import db
from portal.maintenance import load_state
from portal.models import Client, Delivery, Event, Workflow
from portal.web.event_pages.forms import BulkRequest, EventFilterForm
from portal.web.settings.forms.common import ConfirmForm

bp = Blueprint("event_log", __name__, url_prefix="/events")


@bp.get("")
@permission_required(EVENTS_VIEW)
def index():
    """List the events of the clients the user may see, newest first, filtered."""
    clients = visible_clients(current_user)
    form = EventFilterForm(clients, formdata=request.args)
    valid = form.validate()
    filters = browse.Filters(
        client_ids=form.client_ids([client.id for client in clients]),
        type=form.type.data or None if valid else None,
        status=form.status.data or None if valid else None,
        since=form.since.data if valid else None,
        until=form.until.data if valid else None,
    )
    page = browse.events_page(filters, parse_id(request.args.get("before"), MAX_BIG_ID))
    kept = {key: value for key, value in request.args.items() if key != "before" and value}
    return render_template(
        "event_log/index.html",
        form=form,
        page=page,
        kept=kept,
        names={client.id: client.name for client in clients},
        held=load_state().processing_paused,
        paused=operations.paused_workflows([client.id for client in clients]),
        confirm=ConfirmForm(),
        can_manage=current_user.can(WORKFLOWS_MANAGE),
        window=parse_id(request.args.get("window")),
    )


@bp.get("/<bigid:event_id>")
@permission_required(EVENTS_VIEW)
def detail(event_id: int):
    """Show an event: payload, status and every delivery with each attempt."""
    event = owned_or_404(Event, event_id, current_user)
    return render_template(
        "event_log/detail.html",
        event=event,
        client_name=db.session.get(Client, event.client_id).name,
        deliveries=browse.deliveries_of(event),
        held=load_state().processing_paused,
        confirm=ConfirmForm(),
        can_manage=current_user.can(WORKFLOWS_MANAGE),
    )


def _act(action, row, done: str, back: str):
    if ConfirmForm().validate_on_submit():
        try:
            action(current_user, row)
        except operations.NotAllowed as refusal:
            db.session.rollback()
            flash(str(refusal), "error")
        else:
            db.session.commit()
            flash(done, "success")
    else:
        flash("The form expired; try again.", "error")
    return redirect(back)


@bp.post("/<bigid:event_id>/replay")
@permission_required(WORKFLOWS_MANAGE)
def replay(event_id: int):
    """Queue the event again so its workflows run anew (new deliveries)."""
    event = owned_or_404(Event, event_id, current_user)
    back = url_for("event_log.detail", event_id=event.id)
    return _act(operations.replay_event, event, f"Event {event.id} queued for replay.", back)


@bp.post("/deliveries/<bigid:delivery_id>/retry")
@permission_required(WORKFLOWS_MANAGE)
def retry(delivery_id: int):
    """Retry a failed delivery now."""
    delivery = owned_or_404(
        Delivery,
        delivery_id,
        current_user,
        lambda row: db.session.get(Event, row.event_id).client_id,
    )
    back = url_for("event_log.detail", event_id=delivery.event_id)
    done = f"Delivery {delivery.id} will be retried now."
    return _act(operations.retry_delivery, delivery, done, back)


@bp.post("/endpoints/<int:workflow_id>/resume")
@permission_required(WORKFLOWS_MANAGE)
def resume_workflow(workflow_id: int):
    """Resume a paused webhook endpoint (close its circuit)."""
    workflow = owned_or_404(Workflow, workflow_id, current_user)
    back = request.referrer if _same_site(request.referrer) else url_for("settings.workflows")
    done = f"Workflow {workflow.name} resumed; its held deliveries go out again."
    return _act(operations.resume_workflow, workflow, done, back)


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


@bp.post("/bulk")
@permission_required(WORKFLOWS_MANAGE)
def bulk_confirm():
    """Count what a bulk action would send and ask for confirmation (nothing changes yet)."""
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for("event_log.index"))
    asked = BulkRequest(request.form, visible_clients(current_user))
    if asked.problem:
        flash(asked.problem, "error")
        return redirect(url_for("event_log.index"))
    found, of_events = recovery.count(asked.action, asked.client_ids, asked.selection)
    return render_template(
        "event_log/bulk_confirm.html",
        asked=asked,
        found=found,
        of_events=of_events,
        hidden=asked.hidden(request.form),
        confirm=ConfirmForm(),
    )


@bp.post("/bulk/start")
@permission_required(WORKFLOWS_MANAGE)
def bulk_start():
    """Store the confirmed bulk job; the processor runs it in the background."""
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for("event_log.index"))
    asked = BulkRequest(request.form, visible_clients(current_user))
    try:
        if asked.problem:
            raise recovery.Refused(asked.problem)
        job = recovery.create(current_user, asked.action, asked.client_ids, asked.selection)
    except recovery.Refused as refusal:
        flash(str(refusal), "error")
        return redirect(url_for("event_log.index"))
    db.session.commit()
    return redirect(url_for("event_log.bulk_job", job_id=job.id))


@bp.get("/bulk/<int:job_id>")
@permission_required(WORKFLOWS_MANAGE)
def bulk_job(job_id: int):
    """Show a bulk job's progress."""
    visible = [client.id for client in visible_clients(current_user)]
    job = recovery.visible_job(job_id, visible)
    if job is None:
        abort(404)
    return render_template("event_log/bulk_job.html", job=job)
