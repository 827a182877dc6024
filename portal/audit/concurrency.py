"""Optimistic concurrency: a save names the version it was based on; another version refuses it.

A version is a fingerprint of the values a page or the API shows (the maintenance state, a
user's, role's or group's snapshot), so every change, by any path, changes it; no counter has
to be kept in step. A form carries a *stamp*: the version it was opened at and when. A save
against a newer version applies nothing and says who changed what, and when, from the audit log.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from portal.audit.changes import changes as field_changes
from portal.core import timefmt
from portal.extensions import db
from portal.models import AuditEntry

SCAN = 50  # recent entries of the module looked at to explain a refusal


def fingerprint(values: Any) -> str:
    """Return the version of ``values`` (JSON-able): equal values, equal versions."""
    text = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def stamp(values: Any, now: datetime) -> str:
    """Return what a form carries: the version of ``values`` and when it was opened (UTC)."""
    millis = int(now.replace(tzinfo=UTC).timestamp() * 1000)
    return f"{fingerprint(values)}.{millis}"


def _parse(value: str) -> tuple[str, datetime | None]:
    version, _, millis = (value or "").strip().partition(".")
    opened = None
    if millis.isascii() and millis.isdigit() and len(millis) < 16:
        opened = datetime.fromtimestamp(int(millis) / 1000, UTC).replace(tzinfo=None)
    return version, opened


@dataclass
class Change:
    """One change made by someone else since the form was opened."""

    actor: str
    at: datetime
    description: str
    fields: list[str] = field(default_factory=list)


@dataclass
class Conflict:
    """Why a save is refused: the changes made in between (newest last; may be empty)."""

    changes: list[Change]

    def message(self, what: str) -> str:
        """Return the refusal as one paragraph; ``what`` names the thing ("the maintenance
        settings", "user a@example.com")."""
        if not self.changes:
            return (
                f"Not saved: {what} changed after you opened this form. Nothing was applied; "
                "your input is kept below. Check it and save again to apply it."
            )
        told = "; ".join(
            f"{change.actor} at {timefmt.text(change.at, seconds=True)}: {change.description}"
            + (f" ({', '.join(change.fields)})" if change.fields else "")
            for change in self.changes
        )
        return (
            f"Not saved: {what} changed after you opened this form, by {told}. Nothing was "
            "applied; your input is kept below. Check it and save again to apply it over "
            "that change."
        )


def conflict(form_stamp: str | None, current: Any, module: str, about=None) -> Conflict | None:
    """Return why a save based on ``form_stamp`` may not overwrite ``current``, or None.

    No stamp (a script posting the form without one) is not checked. ``about(entry)`` picks
    the audit entries of ``module`` that concern this row.
    """
    if not form_stamp:
        return None
    version, opened = _parse(form_stamp)
    if version == fingerprint(current):
        return None
    query = sa.select(AuditEntry).where(AuditEntry.module == module)
    if opened is not None:
        query = query.where(AuditEntry.created_at >= opened - timedelta(seconds=1))
    entries = db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(SCAN))
    found = [
        Change(
            entry.actor,
            entry.created_at,
            entry.description,
            [str(change) for change in field_changes(entry.before, entry.after)][:8],
        )
        for entry in entries
        if entry.action != "refused" and (about is None or about(entry))
    ]
    return Conflict(list(reversed(found[:5])))
