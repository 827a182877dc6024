"""Sign-in, sign-out and changing one's own password."""

import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from portal import accounts, audit
from portal.accounts import passwords
from portal.core.clock import utc_now
from portal.extensions import db, login_manager
from portal.maintenance import display_message, load_state
from portal.models import User
from portal.security import devices, reveals, sessions, signins
from portal.web.auth import signin
from portal.web.auth.forms import ChangePasswordForm, LoginForm, SecondFactorForm

bp = Blueprint("auth", __name__, url_prefix="/auth")

# While maintenance is on every refusal shows this one line (no oracle), worded so that someone
# who may sign in and mistyped their password knows to try again rather than read a lockout.
MAINTENANCE_REFUSAL = (
    "Sign-in failed. During maintenance only some teams may sign in. "
    "If you are one of them, check your email and password and try again."
)


# The session key that carries a right password to the second step, and for how long.
PENDING = "second_factor"
PENDING_SECONDS = 300


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    return sessions.load(session_id)


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
    address = signins.source(request.remote_addr)
    if request.method == "POST":
        wait = signins.throttled_for(address, utc_now())  # early, before any form is read
        if wait:
            return _too_many(wait)
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        secret, device = current_app.config["SECRET_KEY"], request.cookies.get(devices.COOKIE)
        known = _known(devices.known_accounts(secret, device), form.email.data)
        attempt = signin.attempt_sign_in(form.email.data, form.password.data, address, known)
        if attempt.outcome == signin.THROTTLED:  # a parallel attempt took the last try
            return _too_many(attempt.wait)
        if attempt.outcome == signin.OK:
            return _signed_in(attempt.user, form.remember.data)
        db.session.commit()
        if attempt.outcome == signin.SECOND_FACTOR:
            session.clear()
            session[PENDING] = {
                "user": attempt.user.id,
                "remember": bool(form.remember.data),
                "until": int(time.time()) + PENDING_SECONDS,
            }
            return redirect(url_for("auth.two_factor", next=request.args.get("next")))
        error = _refusal(attempt, "Invalid email or password.")
    elif form.is_submitted() and not form.errors.get("csrf_token"):
        error = "Enter your email and password."
    state = load_state()
    return render_template(
        "auth/login.html",
        form=form,
        error=error,
        login_message=display_message(state) if state.enabled else None,
        login_expected_end=state.expected_end if state.enabled else None,
    )


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor():
    """The second step of signing in: a code from the authenticator app or a recovery code."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    pending = _pending()
    if pending is None:
        flash("Sign in with your email and password first.", "info")
        return redirect(url_for("auth.login", next=request.args.get("next")))
    address = signins.source(request.remote_addr)
    if request.method == "POST":
        wait = signins.throttled_for(address, utc_now())
        if wait:
            return _too_many(wait)
    form = SecondFactorForm()
    error = None
    if form.validate_on_submit():
        device = request.cookies.get(devices.COOKIE)
        known = pending["user"] in devices.known_accounts(current_app.config["SECRET_KEY"], device)
        attempt = signin.attempt_second_factor(pending["user"], form.code.data, address, known)
        if attempt.outcome == signin.THROTTLED:
            return _too_many(attempt.wait)
        if attempt.outcome == signin.OK:
            return _signed_in(attempt.user, pending["remember"])
        db.session.commit()
        error = _refusal(attempt, "That code is not right, or it was used already.")
    elif form.is_submitted() and not form.errors.get("csrf_token"):
        error = "Enter the code from your authenticator app or a recovery code."
    return render_template("auth/two_factor.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST only, with the CSRF token): the session and its remember-me cookie end."""
    if current_user.is_authenticated:
        sessions.end(current_user._get_current_object())
        db.session.commit()
    logout_user()
    reveals.forget_all()  # a new key or secret waiting to be shown goes with the session
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Let any signed-in user change their own password (required first when an admin asks)."""
    form = ChangePasswordForm()
    lang = request.accept_languages.best_match(["en", "de"]) or "en"
    form.new_password.description = passwords.requirements(current_user.client, lang)
    required = current_user.must_change_password
    if form.validate_on_submit():
        if not passwords.check_password(current_user, form.current_password.data):
            form.current_password.errors.append("The current password is wrong.")
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors.append("Choose a password other than your current one.")
        else:
            try:
                accounts.set_password(current_user, form.new_password.data, lang)
            except accounts.AccountError as exc:
                form.new_password.errors.append(str(exc))
            else:
                before = after = None
                if required:  # the flag's change is audited like an admin's edit
                    before, after = {"must_change_password": True}, {"must_change_password": False}
                audit.record(
                    current_user,
                    "users",
                    "password",
                    "Changed own password",
                    before=before,
                    after=after,
                    client_id=current_user.client_id,
                )
                db.session.commit()
                flash("Your password has been changed.", "success")
                return redirect(safe_next(request.args.get("next")))
    return render_template("auth/password.html", form=form, required=required)


def _pending() -> dict | None:
    """Return the password step's record for the second step, while it is fresh."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None
    if not isinstance(pending.get("until"), int) or pending["until"] < time.time():
        session.pop(PENDING, None)
        return None
    return pending


def _refusal(attempt: signin.Attempt, wrong: str) -> str:
    if attempt.maintenance:
        return MAINTENANCE_REFUSAL
    if attempt.outcome == signin.LOCKED:
        return "This account is temporarily locked after too many failed sign-ins."
    return wrong


def _signed_in(user: User, remember: bool):
    """Open the session, remember this browser for the account, go where the user was going."""
    _start_session(user, remember=remember)
    db.session.commit()
    secret, device = current_app.config["SECRET_KEY"], request.cookies.get(devices.COOKIE)
    response = redirect(safe_next(request.args.get("next")))
    response.set_cookie(
        devices.COOKIE,
        devices.cookie_value(secret, device, user.id),
        max_age=devices.MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


def _too_many(wait: int):
    response = make_response(render_template("errors/429.html", wait=wait), 429)
    response.headers["Retry-After"] = str(wait)
    return response


def _known(user_ids: list[int], email: str) -> bool:
    user = accounts.find_user(email) if user_ids else None
    return user is not None and user.id in user_ids


def _start_session(user: User, *, remember: bool) -> None:
    """Sign ``user`` in on a fresh session (nothing of the anonymous session is kept)."""
    session.clear()
    keep_for = timedelta(seconds=current_app.config["REMEMBER_COOKIE_DURATION"])
    agent = request.user_agent.string
    sessions.start(user, keep_for, user_agent=agent, address=request.remote_addr)
    login_user(user, remember=remember)
