"""Which workflows run for each event of a batch, with a failing workflow isolated.

A workflow whose stored condition the processor cannot follow (saved before the validation
existed, or written straight into the database), or whose evaluation raises for an event,
fails the events it concerns with an error that names it; every other event and client of
the batch is processed as usual. Each such workflow is audited once per batch (module
``workflows``, against its client), not once per event.
"""

from collections import defaultdict
from typing import Any

from portal import audit
from portal.events.conditions import condition_holds, condition_problem

ACTOR = "processor"
MODULE = "workflows"
ACTION = "evaluation_failed"
MAX_REASON = 300


class _Unevaluable(Exception):
    """The workflow's stored condition is not one the processor can follow."""


class Evaluation:
    """One batch's workflows: choose the ones that run for each event, collect the failures."""

    def __init__(self, flows: dict[int, list]) -> None:
        self._flows = flows
        # Checked once per workflow and batch, not per event.
        self._problems = {
            flow.id: _problem(flow.condition)
            for items in flows.values()
            for flow in items
            if flow.condition
        }
        self.errors: dict[str, list[int]] = defaultdict(list)  # last_error -> event ids
        self._broken: dict[int, tuple[Any, str, list[int]]] = {}  # flow id -> flow, reason, ids

    def chosen(self, event, payload: Any) -> list | None:
        """Return the workflows that run for ``event``, or None when one of them could not be
        evaluated: the event then fails (none of its workflows run, so a replay after the fix
        runs each of them once)."""
        chosen = []
        for flow in self._flows.get(event.client_id, ()):
            if flow.event_type != "*" and flow.event_type != event.type:
                continue
            if flow.condition:
                try:
                    problem = self._problems[flow.id]
                    if problem:
                        raise _Unevaluable(problem)
                    if not condition_holds(flow.condition, payload):
                        continue
                except Exception as exc:  # isolate: this event fails, the batch goes on
                    self._fail(flow, event.id, _reason(exc))
                    return None
            chosen.append(flow)
        return chosen

    def _fail(self, flow, event_id: int, reason: str) -> None:
        message = f"Workflow {flow.name} could not run: {reason} Fix it, then replay the event."
        self.errors[message].append(event_id)
        self._broken.setdefault(flow.id, (flow, reason, []))[2].append(event_id)

    def audit(self) -> None:
        """Audit each workflow that failed events in this batch, once, against its client."""
        for flow, reason, ids in self._broken.values():
            audit.record(
                ACTOR,
                MODULE,
                ACTION,
                f"Workflow {flow.name} could not run for {len(ids)} event(s): {reason}",
                after={
                    "workflow_id": flow.id,
                    "workflow": flow.name,
                    "error": reason,
                    "events": len(ids),
                    "event_ids": ids[:20],
                },
                client_id=flow.client_id,
            )


def _problem(condition: Any) -> str | None:
    try:
        return condition_problem(condition)
    except Exception as exc:  # whatever is stored, the batch goes on
        return f"checking it raised {type(exc).__name__}."


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Unevaluable):
        text = f"its condition cannot be evaluated. {exc}"
    else:
        text = f"evaluating it raised {type(exc).__name__}: {exc}."
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
