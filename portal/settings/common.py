"""Helpers shared by the admin pages' views."""

from flask import request
from flask_wtf import FlaskForm

from portal.accounts import AccountError


def show_error(form: FlaskForm, exc: AccountError) -> None:
    """Put a refused change's message next to its field, or above the form."""
    field = form._fields.get(exc.field) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, str(exc)]
    else:
        form.form_errors = [*form.form_errors, str(exc)]


def language() -> str:
    """Return the language of rule messages for this request: "de" or "en"."""
    return request.accept_languages.best_match(["en", "de"]) or "en"


def page_number() -> int:
    """Return the ``page`` query argument (1 for anything that is not a positive number)."""
    page = request.args.get("page", "1")
    return int(page) if page.isdigit() and int(page) > 0 else 1
