"""Settings → Roles: list, create, edit, delete (with the guardrails)."""

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from portal import accounts
from portal.accounts import AccountError
from portal.accounts.authorization import check_instance_admin, check_may_change_role
from portal.accounts.permissions import CATALOGUE, USERS_MANAGE, permission_required
from portal.audit.snapshots import role_values
from portal.extensions import db
from portal.maintenance import load_state
from portal.maintenance.guardrails import guarded
from portal.models import Role
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
from portal.web.settings.forms.roles import RoleForm


@bp.route("/roles")
@permission_required(USERS_MANAGE)
def roles():
    """List the roles with their permissions and member counts."""
    rows = db.session.scalars(sa.select(Role).order_by(Role.name)).all()
    bypass = {role.id for role in load_state().bypass_roles}
    return render_template("settings/roles.html", roles=rows, bypass=bypass, catalogue=CATALOGUE)


@bp.route("/roles/new", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def role_new():
    """Create a role."""
    form = RoleForm()
    if form.validate_on_submit():
        try:
            check_instance_admin(current_user, "roles", "creating a role")
            check_may_change_role(set(current_user.permissions), None, form.permissions.data or [])
            role = accounts.create_role(form.name.data, form.permissions.data)
        except AccountError as exc:
            refuse(form, exc)
        else:
            commit_change("roles", "create", f"Created role {role.name}", after=role_values(role))
            flash(f"Role {role.name} created.", "success")
            return redirect(url_for("settings.roles"))
    return render_template("settings/role_form.html", form=form, role=None)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def role_edit(role_id: int):
    """Rename a role or change its permissions."""
    role = db.get_or_404(Role, role_id)
    form = RoleForm(data={"name": role.name, "permissions": list(role.permissions)})
    open_version(form, role_values(role))
    if form.validate_on_submit() and not edited_meanwhile(
        form, role_values(role), "roles", f"role {role.name}", "name"
    ):
        before = role_values(role)
        try:
            wanted = form.permissions.data or []
            if form.name.data.strip() != role.name or set(wanted) != set(role.permissions):
                check_instance_admin(current_user, "roles", "changing a role")
                check_may_change_role(set(current_user.permissions), role, wanted)
            with guarded(current_user):
                accounts.update_role(role, form.name.data, wanted)
        except AccountError as exc:
            refuse(form, exc)
        else:
            commit_change(
                "roles",
                "update",
                f"Edited role {role.name}",
                before=before,
                after=role_values(role),
            )
            flash(f"Role {role.name} saved.", "success")
            return redirect(url_for("settings.roles"))
    return _render_edit(role, form)


@bp.route("/roles/<int:role_id>/delete", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def role_delete(role_id: int):
    """Ask first, naming who loses the role; then delete it unless a guardrail forbids it."""
    role = db.get_or_404(Role, role_id)
    return ask_then_delete(
        module="roles",
        what=f"role {role.name}",
        before=role_values(role),
        delete=lambda: _delete(role),
        ask=lambda form, refusal: _confirm(role, form, refusal),
        done_url=url_for("settings.roles"),
    )


def _delete(role: Role) -> None:
    check_instance_admin(current_user, "roles", "deleting a role")
    with guarded(current_user):
        accounts.delete_role(role)


def _confirm(role: Role, form: ConfirmForm, refusal: str | None):
    effects = deletions.role_effects(role, current_user)
    return confirm_delete(
        title=f"Delete role {role.name}?",
        consequences=effects,
        button="Delete role",
        cancel_url=url_for("settings.role_edit", role_id=role.id),
        refusal=refusal,
        form=form,
    )


def _render_edit(role: Role, form: RoleForm):
    return render_template("settings/role_form.html", form=form, role=role)
