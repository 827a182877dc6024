"""Workflows and scheduled triggers as admins edit them: save, toggle, delete, each audited.

Functions add to the session and flush; the caller commits its unit of work. Running them is
the event pipeline's job (``portal.events``), never this module's.
"""

import hashlib
from typing import Any

from portal import audit
from portal.core.clock import utc_now
from portal.events.conditions import condition_problem
from portal.events.trigger_schedule import next_fire_time
from portal.events.webhooks import signing
from portal.extensions import db
from portal.models import Client, ScheduledTrigger, User, Workflow

WORKFLOW_FIELDS = (
    "client_id",
    "name",
    "enabled",
    "event_type",
    "condition",
    "action",
    "url",
    "max_in_flight",
    "rate_limit",
)
TRIGGER_FIELDS = (
    "client_id",
    "name",
    "enabled",
    "interval_seconds",
    "cron",
    "event_type",
    "payload",
)
SCHEDULE_FIELDS = ("interval_seconds", "cron")


def new_secret() -> str:
    """Return a fresh random Standard Webhooks signing secret (``whsec_...``)."""
    return signing.new_secret()


def secret_fingerprint(secret: str) -> str:
    """Return a short digest of ``secret``: the audit log shows that it changed, not its value."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12] if secret else ""


def _client_name(client_id: int) -> str:
    client = db.session.get(Client, client_id)
    return client.name if client else str(client_id)


def workflow_snapshot(workflow: Workflow) -> dict[str, Any]:
    """Return the audited view of a workflow (the secret only as a fingerprint)."""
    data = {field: getattr(workflow, field) for field in WORKFLOW_FIELDS}
    data["client"] = _client_name(workflow.client_id)
    data["secret_sha256"] = secret_fingerprint(workflow.secret or "")
    return data


def trigger_snapshot(trigger: ScheduledTrigger) -> dict[str, Any]:
    """Return the audited view of a scheduled trigger."""
    data = {field: getattr(trigger, field) for field in TRIGGER_FIELDS}
    data["client"] = _client_name(trigger.client_id)
    return data


def save_workflow(
    actor: User, workflow: Workflow | None, values: dict[str, Any], secret: str = ""
) -> tuple[Workflow, str | None]:
    """Create or update a workflow from form ``values``; return it and a newly generated secret.

    A blank ``secret`` keeps the current one, or generates one for a new webhook. Raise
    ValueError for a condition the processor could not evaluate (forms check it first).
    """
    problem = condition_problem(values["condition"])
    if problem:
        raise ValueError(problem)
    before = workflow_snapshot(workflow) if workflow else None
    if workflow is None:
        workflow = Workflow()
        db.session.add(workflow)
    for field in WORKFLOW_FIELDS:
        setattr(workflow, field, values[field])
    generated = None
    if workflow.action == "webhook":
        if secret:
            workflow.secret = secret
        elif not workflow.secret:
            workflow.secret = generated = new_secret()
    else:
        workflow.url, workflow.secret = "", ""
    _audit(actor, "update" if before else "create", workflow, before)
    return workflow, generated


def save_trigger(
    actor: User, trigger: ScheduledTrigger | None, values: dict[str, Any]
) -> ScheduledTrigger:
    """Create or update a trigger; a new schedule (or re-enabling) restarts its clock from now."""
    before = trigger_snapshot(trigger) if trigger else None
    if trigger is None:
        trigger = ScheduledTrigger()
        db.session.add(trigger)
    reschedule = (
        before is None
        or any(before[field] != values[field] for field in SCHEDULE_FIELDS)
        or (values["enabled"] and not before["enabled"])
    )
    for field in TRIGGER_FIELDS:
        setattr(trigger, field, values[field])
    if reschedule:
        trigger.next_fire_at = next_fire_time(trigger.interval_seconds, trigger.cron, utc_now())
    _audit(actor, "update" if before else "create", trigger, before)
    return trigger


def set_workflow_enabled(actor: User, workflow: Workflow, enabled: bool) -> None:
    """Enable or disable a workflow."""
    before = workflow_snapshot(workflow)
    workflow.enabled = enabled
    _audit(actor, "enable" if enabled else "disable", workflow, before)


def set_trigger_enabled(actor: User, trigger: ScheduledTrigger, enabled: bool) -> None:
    """Enable or disable a trigger; re-enabling schedules its next firing from now."""
    before = trigger_snapshot(trigger)
    trigger.enabled = enabled
    if enabled and not before["enabled"]:
        trigger.next_fire_at = next_fire_time(trigger.interval_seconds, trigger.cron, utc_now())
    _audit(actor, "enable" if enabled else "disable", trigger, before)


def delete_workflow(actor: User, workflow: Workflow) -> None:
    """Delete a workflow; its past deliveries stay, without a workflow."""
    _audit(actor, "delete", workflow, workflow_snapshot(workflow))
    db.session.delete(workflow)
    db.session.flush()


def delete_trigger(actor: User, trigger: ScheduledTrigger) -> None:
    """Delete a scheduled trigger."""
    _audit(actor, "delete", trigger, trigger_snapshot(trigger))
    db.session.delete(trigger)
    db.session.flush()


def _audit(
    actor: User, verb: str, item: Workflow | ScheduledTrigger, before: dict[str, Any] | None
) -> None:
    # Flush first so a new row has its id; a deleted row is audited before it goes.
    if verb != "delete":
        db.session.flush()
    if isinstance(item, Workflow):
        module, noun, snapshot = "workflows", "workflow", workflow_snapshot
    else:
        module, noun, snapshot = "triggers", "scheduled trigger", trigger_snapshot
    audit.record(
        actor,
        module,
        verb,
        f"{verb.capitalize()}d {noun} {item.name}",
        before=before,
        after=None if verb == "delete" else snapshot(item),
        client_id=item.client_id,
    )
