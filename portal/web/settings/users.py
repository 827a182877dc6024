"""Settings → Users: list, create, edit, reset password, unlock, delete."""

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal import accounts
from portal.accounts import AccountError, passwords, tokens, twofactor
from portal.accounts.authorization import (
    check_may_grant_roles,
    check_may_manage_user,
    owned_or_404,
    scoped,
    visible_clients,
)
from portal.accounts.permissions import USERS_MANAGE, permission_required
from portal.audit.concurrency import stamp
from portal.audit.snapshots import user_values
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import Selection, load_state, may_bypass
from portal.maintenance.guardrails import check_not_self, guarded
from portal.models import AccessGroup, Client, PersonalAccessToken, Role, User
from portal.security import sessions
from portal.web.auth.account_security import session_rows
from portal.web.settings import deletions
from portal.web.settings.blueprint import bp
from portal.web.settings.common import (
    ask_then_delete,
    commit_change,
    confirm_delete,
    edited_meanwhile,
    language,
    open_version,
    page_number,
    refuse,
)
from portal.web.settings.forms.common import ConfirmForm
from portal.web.settings.forms.users import NewUserForm, PasswordResetForm, UserForm, UserSearchForm


@bp.route("/users")
@permission_required(USERS_MANAGE)
def users():
    """List users, searched by email and paginated."""
    search = UserSearchForm(request.args)
    query = scoped(sa.select(User).order_by(User.email), User, current_user)
    if search.validate() and search.q.data:
        query = query.where(User.email.contains(search.q.data.strip().lower(), autoescape=True))
    pagination = db.paginate(
        query, page=page_number(), per_page=current_app.config["USERS_PER_PAGE"], error_out=False
    )
    # Who could sign in with the saved bypass selection were maintenance on now: the rule itself
    # answers, for the page's users (their roles and groups come with the page, not per row).
    state = load_state()
    selection = Selection(list(state.bypass_roles), list(state.bypass_groups))
    bypass = {user.id: may_bypass(user, selection) for user in pagination.items}
    return render_template(
        "settings/users.html",
        search=search,
        pagination=pagination,
        now=utc_now(),
        bypass=bypass,
        selection=selection,
        maintenance_on=state.enabled,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def user_new():
    """Create a user."""
    form = NewUserForm()
    _fill_choices(form)
    if not form.is_submitted():
        form.client.data = current_user.client_id
    if form.validate_on_submit():
        held = set(current_user.permissions)
        try:
            check_may_grant_roles(held, _chosen(Role, form.roles.data))
            user = accounts.create_user(
                form.email.data,
                form.password.data,
                db.session.get(Client, form.client.data),
                _chosen(Role, form.roles.data),
                _chosen(AccessGroup, form.groups.data),
                active=form.active.data,
                must_change_password=form.must_change_password.data,
                lang=language(),
            )
        except AccountError as exc:
            refuse(form, exc)
        else:
            commit_change(
                "users",
                "create",
                f"Created user {user.email}",
                after=user_values(user),
                client_id=user.client_id,
            )
            flash(f"User {user.email} created.", "success")
            return redirect(url_for("settings.users"))
    _describe_password(form, form.client.data)
    rules = [
        (client.name, passwords.rule_message(client, language()))
        for client in visible_clients(current_user)
    ]
    return render_template("settings/user_form.html", form=form, user=None, rules=rules)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def user_edit(user_id: int):
    """Edit a user's email, client, roles, groups and active flag."""
    user = owned_or_404(User, user_id, current_user)
    form = UserForm(data=_current(user))
    _fill_choices(form)
    open_version(form, user_values(user))
    if form.validate_on_submit() and not edited_meanwhile(
        form, user_values(user), "users", f"user {user.email}", "email"
    ):
        before = user_values(user)
        held = set(current_user.permissions)
        try:
            check_may_manage_user(held, user, "edit")
            check_may_grant_roles(held, _chosen(Role, form.roles.data))
            if not form.active.data:
                check_not_self(current_user, user)
            with guarded(current_user):
                accounts.update_user(
                    user,
                    form.email.data,
                    db.session.get(Client, form.client.data),
                    _chosen(Role, form.roles.data),
                    _chosen(AccessGroup, form.groups.data),
                    active=form.active.data,
                    must_change_password=form.must_change_password.data,
                )
        except AccountError as exc:
            refuse(form, exc)
        else:
            _record(user, "update", f"Edited user {user.email}", before, user_values(user))
            flash(f"User {user.email} saved.", "success")
            return redirect(url_for("settings.users"))
    return _render_edit(user, form=form)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@permission_required(USERS_MANAGE)
def user_password(user_id: int):
    """Set a new password for a user (the client's policy applies)."""
    user = owned_or_404(User, user_id, current_user)
    reset = PasswordResetForm()
    if reset.validate_on_submit():
        try:
            check_may_manage_user(set(current_user.permissions), user, "reset the password of")
            must_change = reset.must_change_password.data
            accounts.set_password(
                user, reset.password.data, language(), must_change_password=must_change
            )
        except AccountError as exc:
            refuse(reset, exc)
        else:
            after = {"must_change_password": must_change}
            _record(user, "password", f"Reset the password of {user.email}", None, after)
            flash(f"New password set for {user.email}.", "success")
            return redirect(url_for("settings.user_edit", user_id=user.id))
    return _render_edit(user, reset=reset)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@permission_required(USERS_MANAGE)
def user_unlock(user_id: int):
    """Lift a user's sign-in lockout."""
    user = owned_or_404(User, user_id, current_user)
    if ConfirmForm().validate_on_submit():
        try:
            check_may_manage_user(set(current_user.permissions), user, "unlock")
        except AccountError as exc:
            refuse(None, exc)
            return _render_edit(user, error=str(exc))
        before = {"locked_until": _iso(user.locked_until), "failed_logins": user.failed_logins}
        passwords.unlock(user)
        after = {"locked_until": None, "failed_logins": 0}
        _record(user, "unlock", f"Unlocked {user.email}", before, after)
        flash(f"{user.email} is unlocked.", "success")
    return redirect(url_for("settings.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
@permission_required(USERS_MANAGE)
def user_delete(user_id: int):
    """Ask first, naming what goes with the user; then delete them (not yourself, not the last
    one who can manage client settings)."""
    user = owned_or_404(User, user_id, current_user)
    return ask_then_delete(
        module="users",
        what=f"user {user.email}",
        before=user_values(user),
        client_id=user.client_id,
        delete=lambda: _delete(user),
        ask=lambda form, refusal: _confirm(user, form, refusal),
        done_url=url_for("settings.users"),
    )


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@permission_required(USERS_MANAGE)
def user_token_revoke(user_id: int, token_id: int):
    """Revoke a personal access token of a user the admin administers."""
    user = owned_or_404(User, user_id, current_user)
    token = db.get_or_404(PersonalAccessToken, token_id)
    if token.user_id != user.id:
        abort(404)
    if ConfirmForm().validate_on_submit() and tokens.revoke(token, current_user):
        db.session.commit()
        flash(f"Token {token.name} of {user.email} revoked.", "success")
    return redirect(url_for("settings.user_edit", user_id=user.id))


def _delete(user: User) -> None:
    check_may_manage_user(set(current_user.permissions), user, "delete")
    check_not_self(current_user, user)
    with guarded(current_user):
        db.session.delete(user)


def _confirm(user: User, form: ConfirmForm, refusal: str | None):
    effects = deletions.user_effects(user)
    return confirm_delete(
        title=f"Delete user {user.email}?",
        consequences=effects,
        button="Delete user",
        cancel_url=url_for("settings.user_edit", user_id=user.id),
        refusal=refusal,
        form=form,
    )


def _current(user: User) -> dict:
    return {
        "email": user.email,
        "client": user.client_id,
        "roles": [role.id for role in user.roles],
        "groups": [group.id for group in user.groups],
        "active": user.active,
        "must_change_password": user.must_change_password,
    }


def _fill_choices(form: UserForm) -> None:
    """Offer the clients the admin may manage, and every role and group; the option text is
    the name (roles the admin may not give are refused on save, with the reason)."""
    clients = visible_clients(current_user)
    form.client.choices = [SelectChoice(client.id, client.name) for client in clients]
    for field, model in ((form.roles, Role), (form.groups, AccessGroup)):
        rows = db.session.scalars(sa.select(model).order_by(model.name))
        field.choices = [SelectChoice(row.id, row.name) for row in rows]


def _chosen(model, ids: list[int]) -> list:
    return list(db.session.scalars(sa.select(model).where(model.id.in_(ids or []))))


def _describe_password(form, client_id: int | None) -> None:
    """Show the chosen client's password rule next to the password fields."""
    client = next((c for c in visible_clients(current_user) if c.id == client_id), None)
    if client is not None:
        form.password.description = passwords.requirements(client, language())


def _record(user: User, action: str, text: str, before, after) -> None:
    commit_change("users", action, text, before=before, after=after, client_id=user.client_id)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _render_edit(user: User, form=None, reset=None, error: str | None = None):
    if form is None:
        form = UserForm(formdata=None, data=_current(user))
        _fill_choices(form)
        form.version.data = stamp(user_values(user), utc_now())
    if error:
        form.form_errors = [*form.form_errors, error]
    reset = reset or PasswordResetForm(formdata=None)
    reset.password.description = passwords.requirements(user.client, language())
    return render_template(
        "settings/user_form.html",
        form=form,
        reset=reset,
        user=user,
        locked=user.is_locked(utc_now()),
        tokens=tokens.tokens_of(user.id),
        now=utc_now(),
        revoke=ConfirmForm(),
        works=tokens.scope_works,
        revoke_url=lambda token: url_for(
            "settings.user_token_revoke", user_id=user.id, token_id=token.id
        ),
        two_factor_on=twofactor.enrolled(user),
        two_factor_required=twofactor.required(user),
        session_rows=session_rows(user),
        current_session=sessions.digest_of(current_user),
        confirm=ConfirmForm(formdata=None),
    )
