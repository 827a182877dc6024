"""``/auth/reset``: asking for a password-reset link by email, and using it."""

from flask import flash, redirect, render_template, request, url_for

from portal import accounts, mail
from portal.accounts import passwords
from portal.core.clock import utc_now
from portal.extensions import db
from portal.security import signins
from portal.web.auth import reset
from portal.web.auth.forms import ResetPasswordForm, ResetRequestForm
from portal.web.auth.routes import _too_many, bp

# The one answer to every request, whether an account has that address or not.
SENT = (
    "If an account with this email address exists, we have sent it a link to choose a new "
    "password. The link works once, for 30 minutes."
)
INVALID = (
    "This link no longer works: it was used, a newer one was sent, the password has changed "
    "since, or it is older than 30 minutes. Ask for a new one below."
)


@bp.route("/reset", methods=["GET", "POST"])
def reset_request():
    """Ask for a link by email; always the same answer (no account oracle), throttled."""
    if not mail.configured():
        return render_template("auth/reset_request.html", form=None, mail_off=mail.OFF)
    form = ResetRequestForm()
    if form.validate_on_submit():
        address, now = signins.source(request.remote_addr), utc_now()
        wait = reset.wait_for(address, form.email.data, now)
        if wait:
            return _too_many(wait)
        reset.request_link(form.email.data, address, now)
        db.session.commit()
        return render_template("auth/reset_request.html", form=None, sent=SENT)
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password with a valid link; it then works no more."""
    user = reset.holder(token)
    if user is None:
        form = ResetRequestForm(formdata=None) if mail.configured() else None
        return render_template("auth/reset_request.html", form=form, invalid=INVALID), 404
    form = ResetPasswordForm()
    lang = request.accept_languages.best_match(["en", "de"]) or "en"
    form.new_password.description = passwords.requirements(user.client, lang)
    if form.validate_on_submit():
        try:
            reset.complete(user, form.new_password.data, lang)
        except accounts.AccountError as exc:
            db.session.rollback()
            form.new_password.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Your password has been changed. Sign in with it.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form, email=user.email)
