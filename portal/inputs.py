"""Numbers read from untrusted text (query strings, URL parts, payload paths, headers).

``str.isdigit()`` says yes to "²" and "١٢"; ``int()`` refuses the first and reads the second
as 12. A number the portal reads is ASCII digits only, bounded, or nothing.
"""

from portal.models.types import MAX_ID


def whole_number(text: str | None, *, high: int, low: int = 0) -> int | None:
    """Return the number the ASCII digits of ``text`` spell if it is within [low, high], else
    None (for an empty, signed, non-ASCII or too large value)."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def parse_id(text: str | None, high: int = MAX_ID) -> int | None:
    """Return the row id ``text`` names (1 to ``high``), or None."""
    return whole_number(text, low=1, high=high)
