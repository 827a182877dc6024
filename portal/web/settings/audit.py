"""Settings → Audit log: every entry newest first, filtered and paginated; ``?format=csv``
downloads the filtered log."""

import json
from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app, render_template, request
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.accounts.authorization import scoped_audit
from portal.accounts.permissions import AUDIT_VIEW, permission_required
from portal.audit.changes import changes
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import AuditEntry
from portal.web.settings import csvfile
from portal.web.settings.blueprint import bp
from portal.web.settings.common import page_number
from portal.web.settings.forms.audit import AuditFilterForm

CSV_COLUMNS = ("when_utc", "who", "module", "action", "what", "changes", "before", "after")


@bp.route("/audit")
@permission_required(AUDIT_VIEW)
def audit():
    """Show the audit log, filtered by module, user and date range (``?format=csv``: download
    every filtered entry)."""
    form = AuditFilterForm(request.args)
    modules = db.session.scalars(
        scoped_audit(sa.select(AuditEntry.module).distinct(), current_user).order_by(
            AuditEntry.module
        )
    )
    form.module.choices = [SelectChoice("", "All modules")] + [
        SelectChoice(name, name) for name in modules
    ]
    query = scoped_audit(
        sa.select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()),
        current_user,
    )
    valid = form.validate()
    if valid:
        query = _filtered(query, form)
    args = {name: value for name, value in _raw_args(form).items() if value}
    if request.args.get("format") == "csv" and valid:  # a bad filter shows the page and why
        return csvfile.download(f"audit-log-{utc_now():%Y-%m-%d}.csv", CSV_COLUMNS, _rows(query))
    pagination = db.paginate(
        query, page=page_number(), per_page=current_app.config["AUDIT_PER_PAGE"], error_out=False
    )
    return render_template(
        "settings/audit.html",
        form=form,
        pagination=pagination,
        args=args,
        pretty=pretty_json,
        changes=changes,
    )


def _rows(query: sa.Select) -> Iterator[list[str]]:
    # A generator, so the query runs while the response streams, in the session of that
    # moment (the view's session is closed by then), a batch of entries at a time.
    for entry in db.session.scalars(query.execution_options(yield_per=500)):
        yield cells(entry)


def cells(entry: AuditEntry) -> list[str]:
    """Return one entry as the CSV row: what the page shows, the full values as JSON."""
    return [
        f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
        entry.actor,
        entry.module,
        entry.action,
        entry.description,
        "; ".join(str(change) for change in changes(entry.before, entry.after)),
        _json_cell(entry.before),
        _json_cell(entry.after),
    ]


def _json_cell(value) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _filtered(query: sa.Select, form: AuditFilterForm) -> sa.Select:
    if form.module.data:
        query = query.where(AuditEntry.module == form.module.data)
    if form.user.data and form.user.data.strip():
        needle = form.user.data.strip().lower()
        query = query.where(sa.func.lower(AuditEntry.actor).contains(needle, autoescape=True))
    if form.date_from.data:
        query = query.where(AuditEntry.created_at >= form.date_from.data)
    if form.date_to.end is not None:  # inclusive: its whole day or minute
        query = query.where(AuditEntry.created_at < form.date_to.end)
    return query


def _raw_args(form: AuditFilterForm) -> dict:
    """Return the filters as typed, for the pagination links."""
    return {field.name: (field.raw_data or [""])[0] for field in form if field.name != "csrf_token"}


def pretty_json(value) -> str:
    """Return ``value`` as indented JSON (the template escapes it)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
