"""JSON typed by admins (workflow conditions, trigger payloads): only values every database
stores and every receiver parses, so no NaN, no Infinity and no number that overflows to one."""

import json
import math
from typing import Any


class NonFiniteNumber(ValueError):
    """The text is JSON-like but holds a number JSON cannot carry."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(f"{text[:40]} is too large a number; give a finite number.")
    return value


def _constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not a JSON number; give a finite number.")


def loads(text: str) -> Any:
    """Parse ``text`` as strict JSON; raise ValueError for bad JSON and NonFiniteNumber for
    NaN, Infinity, 1e400 and the like."""
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.")
