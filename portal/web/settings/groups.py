"""Settings → Access groups: list, create, edit, delete (with the guardrails)."""

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal import accounts
from portal.accounts import AccountError
from portal.accounts.authorization import check_instance_admin
from portal.accounts.permissions import USERS_MANAGE, permission_required
from portal.audit.snapshots import group_values
from portal.extensions import db
from portal.maintenance import load_state
from portal.maintenance.guardrails import guarded
from portal.models import AccessGroup
from portal.web.settings import deletions
from portal.web.settings.blueprint import bp
from portal.web.settings.common import (
    ask_then_delete,
    commit_change,
    confirm_delete,
    edited_meanwhile,
    open_version,
    refuse,
)
from portal.web.settings.forms.common import ConfirmForm
from portal.web.settings.forms.groups import GroupForm


@bp.route("/groups")
@permission_required(USERS_MANAGE)
def groups():
    """List the access groups."""
    rows = db.session.scalars(sa.select(AccessGroup).order_by(AccessGroup.name)).all()
    bypass = {group.id for group in load_state().bypass_groups}
    return render_template("settings/groups.html", groups=rows, bypass=bypass)


@bp.route("/groups/new", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def group_new():
    """Create an access group."""
    form = GroupForm()
    if form.validate_on_submit():
        try:
            check_instance_admin(current_user, "groups", "creating an access group")
            group = accounts.create_group(form.name.data, form.description.data)
        except AccountError as exc:
            refuse(form, exc)
        else:
            commit_change(
                "groups", "create", f"Created access group {group.name}", after=group_values(group)
            )
            flash(f"Access group {group.name} created.", "success")
            return redirect(url_for("settings.groups"))
    return render_template("settings/group_form.html", form=form, group=None)


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def group_edit(group_id: int):
    """Rename an access group or change its description."""
    group = db.get_or_404(AccessGroup, group_id)
    form = GroupForm(data=group_values(group))
    open_version(form, group_values(group))
    if form.validate_on_submit() and not edited_meanwhile(
        form, group_values(group), "groups", f"access group {group.name}", "name"
    ):
        before = group_values(group)
        try:
            if form.name.data.strip() != group.name:
                check_instance_admin(current_user, "groups", "renaming an access group")
            with guarded(current_user):
                accounts.update_group(group, form.name.data, form.description.data)
        except AccountError as exc:
            refuse(form, exc)
        else:
            commit_change(
                "groups",
                "update",
                f"Edited access group {group.name}",
                before=before,
                after=group_values(group),
            )
            flash(f"Access group {group.name} saved.", "success")
            return redirect(url_for("settings.groups"))
    return _render_edit(group, form)


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def group_delete(group_id: int):
    """Ask first, naming who loses the group; then delete it unless a guardrail forbids it."""
    group = db.get_or_404(AccessGroup, group_id)
    return ask_then_delete(
        module="groups",
        what=f"access group {group.name}",
        before=group_values(group),
        delete=lambda: _delete(group),
        ask=lambda form, refusal: _confirm(group, form, refusal),
        done_url=url_for("settings.groups"),
    )


def _delete(group: AccessGroup) -> None:
    check_instance_admin(current_user, "groups", "deleting an access group")
    with guarded(current_user):
        accounts.delete_group(group)


def _confirm(group: AccessGroup, form: ConfirmForm, refusal: str | None):
    effects = deletions.group_effects(group, current_user)
    return confirm_delete(
        title=f"Delete access group {group.name}?",
        consequences=effects,
        button="Delete access group",
        cancel_url=url_for("settings.group_edit", group_id=group.id),
        refusal=refusal,
        form=form,
    )


def _render_edit(group: AccessGroup, form: GroupForm):
    return render_template("settings/group_form.html", form=form, group=group)
