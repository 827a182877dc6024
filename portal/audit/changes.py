"""What an audit entry changed, field by field: "name: Viewer → Reader", shown before the full
before/after values (on the page and in the CSV export)."""

from dataclasses import dataclass
from typing import Any

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True)
class Change:
    """One changed field: its path ("name", "policy.lockout_minutes") and both values as text."""

    field: str
    kind: str  # ADDED, REMOVED or CHANGED
    before: str = ""
    after: str = ""

    def __str__(self) -> str:
        if self.kind == ADDED:
            return f"{self.field} (added): {self.after}"
        if self.kind == REMOVED:
            return f"{self.field} (removed): {self.before}"
        return f"{self.field}: {self.before} → {self.after}"


def changes(before: Any, after: Any) -> list[Change]:
    """Return the fields that differ between two JSON values, in the order they were stored.

    Objects are compared key by key (nested objects as dotted paths); any other value, lists
    included, is one field that changed as a whole. A missing side (a creation or a deletion)
    makes every field added or removed.
    """
    return list(_walk("", before, after))


def compact(value: Any) -> str:
    """Return a JSON value as short text: strings bare, lists and objects on one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(compact(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {compact(item)}" for key, item in value.items()) + "}"
    return str(value)


def _walk(path: str, before: Any, after: Any):
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(key for key in after if key not in before)]:
            inner = f"{path}.{key}" if path else str(key)
            if key not in after:
                yield Change(inner, REMOVED, before=compact(before[key]))
            elif key not in before:
                yield Change(inner, ADDED, after=compact(after[key]))
            else:
                yield from _walk(inner, before[key], after[key])
    elif not path and before is None and isinstance(after, dict):  # created
        yield from _walk(path, {}, after)
    elif not path and after is None and isinstance(before, dict):  # deleted
        yield from _walk(path, before, {})
    elif before != after or type(before) is not type(after):
        yield Change(path or "value", CHANGED, compact(before), compact(after))
