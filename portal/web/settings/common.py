"""Helpers shared by the admin pages' views."""

from collections.abc import Callable
from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.accounts import AccountError
from portal.accounts.authorization import Refused
from portal.audit import concurrency
from portal.core.clock import utc_now
from portal.extensions import db
from portal.web.settings.blueprint import bp
from portal.web.settings.forms.common import ConfirmForm

CONFLICT = (
    "Another change saved the same name or email a moment ago, so nothing was saved. "
    "Check the list and try again."
)


def show_error(form: FlaskForm, exc: AccountError) -> None:
    """Put a refused change's message next to its field, or above the form."""
    field = form._fields.get(exc.field) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, str(exc)]
    else:
        form.form_errors = [*form.form_errors, str(exc)]


def refuse(form: FlaskForm | None, exc: AccountError) -> None:
    """Undo a refused change and show its message on the form; a change the actor may not
    make (:class:`Refused`) is audited as ``refused``."""
    db.session.rollback()
    if isinstance(exc, Refused):
        commit_change(exc.module, "refused", str(exc))
    if form is not None:
        show_error(form, exc)


def commit_change(
    module: str,
    action: str,
    description: str,
    *,
    before: Any = None,
    after: Any = None,
    client_id: int | None = None,
) -> None:
    """Audit the signed-in admin's change and commit it as one unit of work."""
    audit.record(
        current_user, module, action, description, before=before, after=after, client_id=client_id
    )
    db.session.commit()


@bp.errorhandler(IntegrityError)
def conflict(_error: IntegrityError):
    """Answer a unique-name race between two admins (checked names collide at commit)."""
    db.session.rollback()
    flash(CONFLICT, "error")
    can_get = request.url_rule is not None and "GET" in request.url_rule.methods
    return redirect(request.path if can_get else url_for("dashboard.index"))


def language() -> str:
    """Return the language of rule messages for this request: "de" or "en"."""
    return request.accept_languages.best_match(["en", "de"]) or "en"


MAX_PAGE = 1_000_000  # far past any real list; keeps OFFSET inside a 64-bit integer


def page_number() -> int:
    """Return the ``page`` query argument (1 for anything that is not a positive number)."""
    page = request.args.get("page", "1")
    # isdigit() alone accepts "²", which int() refuses
    if not (page.isascii() and page.isdigit()) or int(page) < 1:
        return 1
    return min(int(page), MAX_PAGE)


def reveal_page(*, secret: str | None, **texts: str):
    """Render the page that shows a new secret with a copy button and a dismiss form (``texts``:
    title, what, usage, input_id, dismiss_url, back_url); browsers must not cache it."""
    page = render_template("settings/reveal.html", secret=secret, form=ConfirmForm(), **texts)
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


def dry_run(change: Callable[[], None]) -> str | None:
    """Make ``change`` and undo it; return why it was refused (AccountError), or None.

    The confirmation page asks the same code the delete runs, so it says in advance what the
    delete would refuse. Nothing is audited or committed.
    """
    try:
        change()
        db.session.flush()
    except AccountError as exc:
        return str(exc)
    finally:
        db.session.rollback()
    return None


def ask_then_delete(
    *,
    module: str,
    what: str,
    before: dict,
    delete: Callable[[], None],
    ask: Callable[[ConfirmForm, str | None], Any],
    done_url: str,
    client_id: int | None = None,
):
    """The one flow of every guarded delete (users, roles, access groups).

    A GET (or a POST without a valid token) asks first, saying already what a rule would refuse;
    a confirmed POST deletes, audits and returns to ``done_url``; a refused one asks again with
    the reason. ``what`` names the row in messages ("role Operator").
    """
    form = ConfirmForm()
    if not form.validate_on_submit():
        return ask(form, dry_run(delete))
    try:
        delete()
    except AccountError as exc:
        refuse(None, exc)
        return ask(form, str(exc))
    commit_change(module, "delete", f"Deleted {what}", before=before, client_id=client_id)
    flash(f"{what[0].upper()}{what[1:]} deleted.", "success")
    return redirect(done_url)


def confirm_delete(
    *,
    title: str,
    consequences: list[str],
    button: str,
    cancel_url: str,
    refusal: str | None = None,
    form: FlaskForm | None = None,
):
    """Render the one confirmation page of every delete: what goes with the row, and the POST
    (with its CSRF token) to the same URL; a refused delete shows why and no button."""
    return render_template(
        "settings/confirm_delete.html",
        title=title,
        consequences=consequences,
        button=button,
        cancel_url=cancel_url,
        refusal=refusal,
        form=form or ConfirmForm(),
    )


def open_version(form: FlaskForm, current: dict) -> None:
    """Give an edit form the version of the row it shows (on the first GET, not on a POST)."""
    if not form.is_submitted():
        form.version.data = concurrency.stamp(current, utc_now())


def edited_meanwhile(form: FlaskForm, current: dict, module: str, what: str, key: str) -> bool:
    """Refuse an edit based on an older version than ``current`` (the row's snapshot): the form
    says who changed what and when (the audit entries of ``module`` whose ``key`` is the row's),
    keeps the input, and carries the new version, so saving again applies it over that change."""
    found = concurrency.conflict(
        form.version.data,
        current,
        module,
        lambda entry: current[key] in ((entry.before or {}).get(key), (entry.after or {}).get(key)),
    )
    if found is None:
        return False
    form.form_errors = [*form.form_errors, found.message(what)]
    form.version.data = concurrency.stamp(current, utc_now())
    return True
