"""Untrusted text (query strings, forms, URL parts, payload paths): what the portal reads.

``str.isdigit()`` says yes to "²" and "١٢"; ``int()`` refuses the first and reads the second
as 12. A number the portal reads is ASCII digits only, bounded, or nothing. Text it stores has
no NUL character and no unpaired surrogate: PostgreSQL refuses both (SQLite would keep them).
"""

# The largest id each kind of column holds on every supported database (the models size their
# id columns and URL converters by these; a number above them names no row).
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1


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


UNSTORABLE = "Must not contain NUL characters or unpaired surrogates."


def storable(text: str) -> bool:
    """Return whether every database can store the string: no NUL, no lone surrogate."""
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
