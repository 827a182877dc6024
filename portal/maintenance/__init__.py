"""Maintenance mode: who may sign in while it is on, and its windows.

The rule is one pure function, :func:`may_bypass` (in ``rule.py``); every caller (the request
hook, the login view, the settings page, the CLI, the guardrails) asks it. The rest of the
package: ``state`` (reading the one state row), ``hook`` (the per-request check), ``changes``
(saving and previewing), ``impact`` (what a proposed change would do, for the review step),
``schedule`` (a scheduled start), ``windows`` (the window report) and ``live`` (open pages
following the state).
"""

from portal.maintenance.hook import (
    OPEN_ENDPOINTS,
    SESSIONLESS_ENDPOINTS,
    enforce_maintenance,
    init_app,
    inject_maintenance,
)
from portal.maintenance.rule import Selection, may_bypass
from portal.maintenance.state import (
    DEFAULT_MESSAGE,
    FLAGS,
    Flags,
    display_message,
    get_or_create_state,
    load_state,
    restriction_holds,
)

__all__ = [
    "DEFAULT_MESSAGE",
    "FLAGS",
    "OPEN_ENDPOINTS",
    "SESSIONLESS_ENDPOINTS",
    "Flags",
    "Selection",
    "display_message",
    "enforce_maintenance",
    "get_or_create_state",
    "init_app",
    "inject_maintenance",
    "load_state",
    "may_bypass",
    "restriction_holds",
]
