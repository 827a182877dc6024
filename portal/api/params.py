"""Strict reading of API input: each bad value is a :class:`BadField` naming the field (a 400),
never a 500. Digits are ASCII only (``int()`` would take ``١٢``), numbers are plain integers
(no ``1e400``), times are ISO 8601."""

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?",
    re.ASCII,
)


class BadField(ValueError):
    """An input value that is not allowed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def single_values(args: Mapping, allowed: Iterable[str]) -> dict[str, str]:
    """Return the query's parameters (each given once, all of them known) as a dict."""
    allowed = tuple(allowed)
    values: dict[str, str] = {}
    for name in args:
        if name not in allowed:
            raise BadField(name, f"unknown parameter; the parameters are {', '.join(allowed)}.")
        given = args.getlist(name)
        if len(given) != 1:
            raise BadField(name, "give it once.")
        values[name] = given[0]
    return values


def whole_number(field: str, text: str, low: int, high: int) -> int:
    """Return ``text`` as an integer from ``low`` to ``high``."""
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise BadField(field, f"a whole number from {low} to {high}.")
    return int(text)


def moment(field: str, text: str) -> datetime:
    """Return an ISO 8601 time (UTC unless it names an offset; a date alone is its midnight)
    as naive UTC."""
    if not _MOMENT.fullmatch(text):
        raise BadField(field, "an ISO 8601 time such as 2026-12-01T18:00:00Z.")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # 2026-02-30, or an offset past year 1 or 9999
        raise BadField(field, f"{text!r} is not a valid date and time.") from None
    return value
