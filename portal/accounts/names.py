"""Names of roles, access groups, clients, workflows and triggers: one rule for all of them.

A name is stored trimmed, has at most as many characters as its column holds, and is unique
without regard to case: instance-wide for roles, access groups and clients (backed by a unique
index on ``lower(name)``, migration 0009), within the client for workflows and triggers.
"""

from collections.abc import Iterable

import sqlalchemy as sa

from portal.extensions import db


def name_key(name: str | None) -> str:
    """Return what two names are compared by: trimmed and case-folded."""
    return (name or "").strip().casefold()


def max_length(model) -> int:
    """Return how many characters a name of ``model`` may have (its column's length)."""
    return model.__table__.c.name.type.length


def length_problem(model, name: str) -> str | None:
    """Return why ``name`` is too long for ``model``, or None; longer text is refused, never cut."""
    limit = max_length(model)
    if len(name) <= limit:
        return None
    return f"Up to {limit} characters: this name has {len(name)}. Shorten it and save again."


def taken_by(
    model, name: str, *, exclude_id: int | None = None, where: Iterable = ()
) -> str | None:
    """Return the name of another row of ``model`` that equals ``name`` without regard to case
    (among the rows matching ``where``), or None."""
    # Compared here rather than with SQL lower(): SQLite's lower() folds ASCII letters only.
    # These lists are short: every page that offers them shows them whole.
    query = sa.select(model.name).where(*where)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    key = name_key(name)
    return next((other for other in db.session.scalars(query) if name_key(other) == key), None)


def duplicate_message(label: str, name: str, existing: str) -> str:
    """Return the message for a name that is taken (``label`` like "A role")."""
    message = f"{label} named {existing} already exists."
    if existing != name:
        message += " Names that differ only in case count as the same name."
    return message
