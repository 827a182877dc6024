"""Account → Personal access tokens: make, list and revoke one's own tokens."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from portal.accounts import tokens
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import PersonalAccessToken
from portal.security import reveals
from portal.web.account.blueprint import bp
from portal.web.account.forms import TokenForm
from portal.web.settings.common import reveal_page
from portal.web.settings.forms.common import ConfirmForm

REVEAL = "personal-access-token"


def _own(token_id: int) -> PersonalAccessToken:
    token = db.get_or_404(PersonalAccessToken, token_id)
    if token.user_id != current_user.id:
        abort(404)
    return token


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens_page():
    """List the signed-in user's tokens and make a new one (shown once)."""
    user = current_user._get_current_object()
    form = TokenForm()
    form.scopes.choices = [
        (scope, f"{scope} — {tokens.SCOPE_LABELS[scope]}") for scope in tokens.grantable(user)
    ]
    if form.validate_on_submit():
        try:
            token, secret = tokens.create(
                user, form.name.data, form.scopes.data, form.expires_days.data, user
            )
        except tokens.TokenError as exc:
            db.session.rollback()
            field = form._fields.get(exc.field or "")
            (field.errors if field is not None else form.form_errors).append(str(exc))
        else:
            db.session.commit()
            reveals.keep(REVEAL, token.id, secret)
            flash(f"Token {token.name} created.", "success")
            return redirect(url_for("account.token_reveal", token_id=token.id))
    return render_template(
        "account/tokens.html",
        form=form,
        tokens=tokens.tokens_of(user.id),
        now=utc_now(),
        revoke=ConfirmForm(),
        works=tokens.scope_works,
        user=user,
        revoke_url=lambda token: url_for("account.token_revoke", token_id=token.id),
    )


@bp.route("/tokens/<int:token_id>")
@login_required
def token_reveal(token_id: int):
    """Show a new token to the session that made it, until dismissed."""
    token = _own(token_id)
    return reveal_page(
        title=f"Personal access token {token.name}",
        what="token",
        secret=reveals.peek(REVEAL, token.id),
        input_id="token-value",
        usage="Scripts send it as Authorization: Bearer <token> to the API. It is stored only "
        "as a hash: once dismissed, nobody can show it again (make a new token instead).",
        dismiss_url=url_for("account.token_dismiss", token_id=token.id),
        back_url=url_for("account.tokens_page"),
    )


@bp.route("/tokens/<int:token_id>/dismiss", methods=["POST"])
@login_required
def token_dismiss(token_id: int):
    """Forget the new token (the user has stored it)."""
    token = _own(token_id)
    if ConfirmForm().validate_on_submit():
        reveals.dismiss(REVEAL, token.id)
        return redirect(url_for("account.tokens_page"))
    return redirect(url_for("account.token_reveal", token_id=token.id))


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def token_revoke(token_id: int):
    """Revoke one of the signed-in user's tokens."""
    token = _own(token_id)
    if ConfirmForm().validate_on_submit() and tokens.revoke(token, current_user):
        db.session.commit()
        flash(f"Token {token.name} revoked; it no longer works.", "success")
    return redirect(url_for("account.tokens_page"))
