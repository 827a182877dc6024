"""Whether the webhook pumps of this process can read the restriction.

A gate that cannot read holds every call (nothing is sent while nobody can tell whether the
restriction is on), so this is what an operator must see: the processor writes it into the
lease row with every renewal (:func:`portal.events.lease.renew_statement`), and ``/healthz``,
``/metrics`` and the dashboard read it from there, whichever process serves them.
"""

import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Unreadable:
    since: datetime  # naive UTC: the first failed read of this outage
    error: str


_lock = threading.Lock()
_failing: dict[int, Unreadable] = {}  # id(gate) -> its outage, for every gate that cannot read


def failed(gate: object, since: datetime, error: str) -> None:
    """Record that ``gate`` cannot read (keeping the start of an outage already recorded)."""
    with _lock:
        known = _failing.get(id(gate))
        _failing[id(gate)] = Unreadable(known.since if known else since, error)


def recovered(gate: object) -> None:
    """Record that ``gate`` reads again (or is closed)."""
    with _lock:
        _failing.pop(id(gate), None)


def unreadable() -> Unreadable | None:
    """Return the longest outage of a gate of this process, or None when every one reads."""
    with _lock:
        return min(_failing.values(), key=lambda outage: outage.since, default=None)
