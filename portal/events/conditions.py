"""Which workflows run for an event: type match and the optional payload condition."""

from typing import Any

from portal.inputs import whole_number

OPERATORS = ("eq", "ne", "gt", "lt", "exists")
_MISSING = object()


def condition_problem(condition: Any) -> str | None:
    """Return why ``condition`` is not a valid payload condition (None when valid or empty)."""
    if condition in (None, {}):
        return None
    if not isinstance(condition, dict):
        return "A condition is an object with field, op and value."
    field = condition.get("field")
    if not isinstance(field, str) or not field.strip():
        return "The condition needs a field (a dotted path such as order.total)."
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

    A missing field satisfies only ``ne``; comparing unlike types is simply false.
    """
    if not condition:
        return True
    value = lookup(payload, str(condition.get("field", "")))
    op = condition.get("op")
    if op == "exists":
        return value is not _MISSING
    if value is _MISSING:
        return op == "ne"
    expected = condition.get("value")
    try:
        if op == "eq":
            return value == expected
        if op == "ne":
            return value != expected
        if op == "gt":
            return value > expected
        if op == "lt":
            return value < expected
    except TypeError:
        return False
    return False


def matches(event_type: str, payload: Any, workflow_type: str, condition: Any) -> bool:
    """Return whether a workflow for ``workflow_type`` (or ``*``) with ``condition`` runs."""
    return (workflow_type in ("*", event_type)) and condition_holds(condition, payload)
