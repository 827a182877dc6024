"""Settings → Client Settings → Maintenance Mode, and the window report."""

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from portal import mail
from portal.accounts import AccountError
from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE, permission_required
from portal.audit.concurrency import conflict, stamp
from portal.core import timefmt
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import load_state, notices
from portal.maintenance.changes import (
    LOCKOUT,
    UNAVAILABLE,
    LockoutError,
    MaintenanceError,
    check_expected_end,
    check_schedule,
    lock_state,
    save_by,
    who_can_sign_in,
    would_lock_out,
)
from portal.maintenance.impact import describe, processing_effect
from portal.models import AccessGroup, MaintenanceState, Role
from portal.models.maintenance import DEFAULT_NOTICE_MINUTES
from portal.web.settings.blueprint import bp
from portal.web.settings.forms.maintenance import MaintenanceForm

STATE = "the maintenance settings"


def _initial(state: MaintenanceState) -> dict:
    return {
        "version": stamp(state.to_dict(), utc_now()),
        "enabled": state.enabled,
        "restrict_event_processor": state.restrict_event_processor,
        "message": state.message,
        "bypass_roles": [role.id for role in state.bypass_roles],
        "bypass_groups": [group.id for group in state.bypass_groups],
        "scheduled_start": state.scheduled_start,
        "expected_end": state.expected_end,
        "notice_minutes": state.notice_minutes
        if state.notice_minutes is not None
        else DEFAULT_NOTICE_MINUTES,
        "email_users": mail.configured(),  # on by default when mail is configured
    }


def _chosen(rows: list, ids: list[int] | None) -> list:
    wanted = set(ids or [])
    return [row for row in rows if row.id in wanted]


def _changes(form: MaintenanceForm, state: MaintenanceState, roles: list, groups: list) -> dict:
    """Return the fields to save, or raise MaintenanceError on the field it concerns."""
    changes = {
        "restrict_event_processor": form.restrict_event_processor.data,
        "message": form.message.data or "",
        "bypass_roles": roles,
        "bypass_groups": groups,
    }
    if form.unschedule.data:
        if state.scheduled_start is None:
            raise FieldError(form.scheduled_start, "No start of maintenance mode is scheduled.")
        return {**changes, "scheduled_start": None}
    notice = form.notice_minutes.data
    notice = DEFAULT_NOTICE_MINUTES if notice is None else notice
    try:
        check_schedule(state, None, notice, utc_now())
    except MaintenanceError as exc:
        raise FieldError(form.notice_minutes, str(exc)) from None
    changes["notice_minutes"] = notice
    changes["expected_end"] = _kept(form.expected_end.data, state.expected_end)
    start = form.scheduled_start.data  # naive UTC, typed in the viewer's zone
    if start is None:  # start now (or stay off): a pending start is dropped
        changes.update(enabled=form.enabled.data, scheduled_start=None)
    else:
        changes["scheduled_start"] = start
    try:
        if start is not None and start != state.scheduled_start:
            check_schedule(state, start, notice, utc_now())
    except MaintenanceError as exc:
        raise FieldError(form.scheduled_start, str(exc)) from None
    try:
        check_expected_end(state, dict(changes), utc_now())
    except MaintenanceError as exc:
        raise FieldError(form.expected_end, str(exc)) from None
    return changes


def _kept(typed, saved):
    """Return ``saved`` when the form sent it back (to the minute, as the input shows it)."""
    if typed is not None and saved is not None and typed == saved.replace(second=0, microsecond=0):
        return saved
    return typed


class FieldError(MaintenanceError):
    """A refusal that belongs next to one field of the form."""

    def __init__(self, field, message: str):
        super().__init__(message)
        self.field = field


@bp.route("/maintenance", methods=["GET", "POST"])
@permission_required(CLIENT_SETTINGS_MANAGE)
def maintenance():
    """Show, review and save (or schedule) the instance-wide maintenance state."""
    available = bool(current_app.config["MAINTENANCE_MODE_AVAILABLE"])
    state = load_state()
    roles = list(db.session.scalars(sa.select(Role).order_by(Role.name)))
    groups = list(db.session.scalars(sa.select(AccessGroup).order_by(AccessGroup.name)))
    form = MaintenanceForm(data=_initial(state))
    form.bypass_roles.choices = [(role.id, role.name) for role in roles]
    form.bypass_groups.choices = [(group.id, group.name) for group in groups]
    if not available:
        form.enabled.render_kw = {"disabled": True}
    if not mail.configured():
        form.email_users.render_kw = {"disabled": True}
        form.email_users.description = mail.OFF
    chosen_roles = _chosen(roles, form.bypass_roles.data)
    chosen_groups = _chosen(groups, form.bypass_groups.data)
    lockout = False
    if form.validate_on_submit() and not (form.preview.data or form.back.data):
        changes, lockout = _allowed_changes(form, state, available, chosen_roles, chosen_groups)
        if changes is not None and _changed_meanwhile(form, state):
            changes = None
        if changes is not None and form.review.data:
            return render_template(
                "settings/maintenance_review.html",
                form=form,
                state=state,
                impact=describe(state, changes, current_user, timefmt.text),
                emails=_planned_emails(form, state, changes),
                mail_off=None if mail.configured() else mail.OFF,
            )
        saved = _apply(form, available, changes) if changes is not None else None
        if saved is not None:
            flash(saved, "success")
            return redirect(url_for("settings.maintenance"))
    preview = who_can_sign_in(chosen_roles, chosen_groups, current_user.client)
    return render_template(
        "settings/maintenance.html",
        form=form,
        state=state,
        available=available,
        lockout=LOCKOUT if lockout else None,
        preview=preview,
        # the hint follows the checkbox: the form's value, and both texts for maintenance.js
        restrict_effects={
            ticked: processing_effect(state.enabled, ticked, state.scheduled_start)
            for ticked in (True, False)
        },
    )


def _allowed_changes(
    form: MaintenanceForm, state: MaintenanceState, available: bool, roles: list, groups: list
) -> tuple[dict | None, bool]:
    """Return the fields to save and whether they would lock the admin out (then None).

    The same refusals as on saving, so the review step shows them before any confirmation;
    a refusal that belongs to a field is put on it.
    """
    try:
        changes = _changes(form, state, roles, groups)
    except FieldError as exc:
        exc.field.errors = [*exc.field.errors, str(exc)]
        return None, False
    starting = bool(changes.get("enabled") or changes.get("scheduled_start") is not None)
    if starting and not available:
        form.enabled.errors.append(UNAVAILABLE)
        return None, False
    if would_lock_out(current_user, starting, roles, groups):
        return None, True
    return changes, False


def _changed_meanwhile(form: MaintenanceForm, state: MaintenanceState) -> bool:
    """Refuse a save (or review) based on an older state than ``state``: say who changed what
    and when, keep the input, and let a second save apply it over that change."""
    found = conflict(form.version.data, state.to_dict(), "maintenance")
    if found is None:
        return False
    form.form_errors = [*form.form_errors, found.message(STATE)]
    form.version.data = stamp(state.to_dict(), utc_now())
    return True


def _planned_emails(form: MaintenanceForm, state: MaintenanceState, changes: dict) -> int:
    """Return how many emails saving ``changes`` would queue (the review step says so)."""
    if not form.email_users.data:
        return 0
    before = {**state.to_dict(), "bypass_roles": state.bypass_roles}
    before["scheduled_start"] = state.scheduled_start
    before["bypass_groups"] = state.bypass_groups
    after = {**before, **changes}
    if after.get("enabled"):
        after["scheduled_start"] = None
    return notices.planned_count(notices.kind(before, after))


def _apply(form: MaintenanceForm, available: bool, changes: dict) -> str | None:
    """Save ``changes``; return the message to flash, or None with the refusal on the form."""
    try:
        state = lock_state()  # a save that committed meanwhile is seen, and waits no more
        if _changed_meanwhile(form, state):
            db.session.rollback()
            return None
        changed = save_by(
            current_user,
            state,
            changes,
            available=available,
            email_users=bool(form.email_users.data),
        )
    except LockoutError:
        db.session.rollback()
        form.form_errors = [*form.form_errors, LOCKOUT]
        return None
    except MaintenanceError as exc:
        db.session.rollback()
        form.message.errors.append(str(exc))
        return None
    except AccountError as exc:
        db.session.rollback()
        form.form_errors = [*form.form_errors, str(exc)]
        return None
    db.session.commit()
    return _saved_message(changed, load_state())


def _saved_message(changed: tuple | None, state: MaintenanceState) -> str:
    if changed is None:
        return "Nothing changed."
    restrict = state.restrict_event_processor
    if state.enabled:
        processing = (
            "event processing is paused and incoming events are held"
            if restrict
            else "event processing keeps running"
        )
        return (
            "Maintenance settings saved. Maintenance mode is on for every client of this "
            f"instance; {processing}."
        )
    if state.scheduled_start is not None:
        processing = "will then be paused" if restrict else "will keep running"
        return (
            f"Maintenance settings saved. Maintenance mode will start by itself at "
            f"{timefmt.text(state.scheduled_start)} for every client of this instance; "
            f"event processing {processing}."
        )
    if restrict:
        return (
            "Maintenance settings saved. Maintenance mode is off; when it is next turned on, "
            "event processing will be paused (incoming events held)."
        )
    return "Maintenance settings saved. Maintenance mode is off."
