"""Sign-in, sign-out and changing one's own password."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from portal import accounts, audit, passwords
from portal.auth import signin
from portal.auth.forms import ChangePasswordForm, LoginForm
from portal.extensions import db, login_manager
from portal.maintenance import display_message, load_state
from portal.models import User

bp = Blueprint("auth", __name__, url_prefix="/auth")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a local path, else the dashboard (no open redirects)."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
            and target.isprintable()  # no CR/LF (header injection) or other control characters
        ):
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        attempt = signin.attempt_sign_in(form.email.data, form.password.data)
        if attempt.outcome == signin.OK:
            login_user(attempt.user, remember=form.remember.data)
            db.session.commit()
            return redirect(safe_next(request.args.get("next")))
        db.session.commit()
        if attempt.maintenance:
            error = "Sign-in is restricted while the gateway is in maintenance."
        elif attempt.outcome == signin.LOCKED:
            error = "This account is temporarily locked after too many failed sign-ins."
        else:
            error = "Invalid email or password."
    elif form.is_submitted() and not form.errors.get("csrf_token"):
        error = "Enter your email and password."
    state = load_state()
    return render_template(
        "auth/login.html",
        form=form,
        error=error,
        login_message=display_message(state) if state.enabled else None,
    )


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST only, with the CSRF token)."""
    logout_user()
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Let any signed-in user change their own password."""
    form = ChangePasswordForm()
    lang = request.accept_languages.best_match(["en", "de"]) or "en"
    form.new_password.description = passwords.rule_message(current_user.client, lang)
    if form.validate_on_submit():
        if not passwords.check_password(current_user, form.current_password.data):
            form.current_password.errors.append("The current password is wrong.")
        else:
            try:
                accounts.set_password(current_user, form.new_password.data, lang)
            except accounts.AccountError as exc:
                form.new_password.errors.append(str(exc))
            else:
                audit.record(current_user, "users", "password", "Changed own password")
                db.session.commit()
                flash("Your password has been changed.", "success")
                return redirect(url_for("dashboard.index"))
    return render_template("auth/password.html", form=form)
