"""Workflow actions: ``record`` (a result row only) and ``webhook`` (a signed HTTP POST).

The webhook calls themselves are made by :mod:`portal.events.webhooks`.
"""

import json
from datetime import datetime

ACTION_RECORD = "record"
ACTION_WEBHOOK = "webhook"
ACTIONS = (ACTION_RECORD, ACTION_WEBHOOK)


def record_result(workflow_name: str) -> dict:
    """Return what a ``record`` action stores for an event."""
    return {"recorded": True, "workflow": workflow_name}


def webhook_body(event: dict, delivery_id: int) -> bytes:
    """Return the JSON body posted for an event (the same bytes on every retry)."""
    received_at: datetime = event["received_at"]
    document = {
        "id": event["id"],
        "type": event["type"],
        "payload": event["payload"],
        "source_id": event["source_id"],
        "received_at": received_at.isoformat() + "Z",
        "delivery_id": delivery_id,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
