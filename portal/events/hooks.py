"""What the packages built on the pipeline add to the processor's rounds.

The pipeline runs this work without importing it: the app factory hands it in through
``app.extensions`` (``register_background_work``: retention and history from
:mod:`portal.operations`, the outbox round from :mod:`portal.mail.sender`), so operations and
mail build on the pipeline and never the reverse.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Flask, current_app

KEY = "portal.processor_hooks"


def _no_housekeeping(_holder: str) -> int:
    return 0


def _no_sample(_calls_in_flight: Mapping[int, int]) -> None:
    return None


@dataclass
class Hooks:
    # As the lease holder, at the end of a round: purge what expired; return the events purged.
    housekeeping: Callable[[str], int] = _no_housekeeping
    # After each round the holder ran, given the webhook calls in flight per client (a history
    # sample).
    after_tick: Callable[[Mapping[int, int]], object] = _no_sample
    # More interval jobs beside the tick, by job id; each is called with the holder id.
    jobs: dict[str, Callable[[str], object]] = field(default_factory=dict)


def of(app: Flask) -> Hooks:
    """Return ``app``'s hooks (none registered: nothing more than the pipeline's own work)."""
    return app.extensions.setdefault(KEY, Hooks())


def current() -> Hooks:
    """Return the hooks of the app in context."""
    return of(current_app)
