"""Which workflows run for an event: type match and the optional payload condition.

A condition's field is a dotted path into the payload (``order.total``, ``items.0``):
:func:`path_problem` is the one definition of a valid path, used by everything that saves a
condition (through :func:`condition_problem`) and by the processor before it evaluates one;
:func:`lookup` and :func:`condition_holds` never raise, whatever the path and the payload.
"""

from typing import Any

from portal.core.inputs import whole_number

OPERATORS = ("eq", "ne", "gt", "lt", "exists")
MAX_PATH_LENGTH = 200
MAX_PATH_DEPTH = 32
_MISSING = object()


def path_problem(path: Any) -> str | None:
    """Return why ``path`` is not a dotted payload path the processor can follow (None: valid)."""
    if not isinstance(path, str) or not path.strip():
        return "The condition needs a field (a dotted path such as order.total)."
    if len(path) > MAX_PATH_LENGTH:
        return f"The condition's field is longer than {MAX_PATH_LENGTH} characters."
    parts = path.split(".")
    if len(parts) > MAX_PATH_DEPTH:
        return f"The condition's field has more than {MAX_PATH_DEPTH} parts."
    if any(not part for part in parts):
        return "Each part of the field's dotted path needs a name (no empty part between dots)."
    for part in parts:
        if part.isdigit() and not part.isascii():  # '²'.isdigit(), but int('²') fails
            return (
                f"In the field, {part[:20]} is not a list position: write positions with the "
                "digits 0-9 (items.0)."
            )
    return None


def condition_problem(condition: Any) -> str | None:
    """Return why ``condition`` is not a valid payload condition (None when valid or empty)."""
    if condition is None or (isinstance(condition, dict) and not condition):
        return None
    if not isinstance(condition, dict):
        return "A condition is an object with field, op and value."
    problem = path_problem(condition.get("field"))
    if problem:
        return problem
    if condition.get("op") not in OPERATORS:
        return f"The condition's op must be one of {', '.join(OPERATORS)}."
    if condition["op"] != "exists" and "value" not in condition:
        return "The condition needs a value."
    return None


def lookup(payload: Any, path: str) -> Any:
    """Return the value at a dotted ``path`` of ``payload``, or the _MISSING marker."""
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and (index := _index(part, value)) is not None:
            value = value[index]
        else:
            return _MISSING
    return value


def _index(part: str, items: list) -> int | None:
    return whole_number(part, high=len(items) - 1)  # "²" is no index (isdigit() says it is)


def condition_holds(condition: Any, payload: Any) -> bool:
    """Return whether ``payload`` satisfies ``condition`` (no condition: always).

    A missing field satisfies only ``ne``; comparing unlike types is simply false, and so is
    a condition that is not one (the processor reports those: see :func:`condition_problem`).
    """
    if not condition:
        return True
    if not isinstance(condition, dict) or not isinstance(condition.get("field"), str):
        return False
    value = lookup(payload, condition["field"])
    op = condition.get("op")
    if op == "exists":
        return value is not _MISSING
    if value is _MISSING:
        return op == "ne"
    expected = condition.get("value")
    try:
        if op == "eq":
            return bool(value == expected)
        if op == "ne":
            return bool(value != expected)
        if op == "gt":
            return bool(value > expected)
        if op == "lt":
            return bool(value < expected)
    except (TypeError, ValueError, RecursionError):
        return False  # unlike types (1 < "a", {} < {}), or nesting too deep to compare
    return False


def matches(event_type: str, payload: Any, workflow_type: str, condition: Any) -> bool:
    """Return whether a workflow for ``workflow_type`` (or ``*``) with ``condition`` runs."""
    return (workflow_type in ("*", event_type)) and condition_holds(condition, payload)
