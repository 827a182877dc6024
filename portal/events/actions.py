"""Workflow actions: ``record`` (a result row only) and ``webhook`` (a signed HTTP POST)."""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

import requests

ACTION_RECORD = "record"
ACTION_WEBHOOK = "webhook"
ACTIONS = (ACTION_RECORD, ACTION_WEBHOOK)
SIGNATURE_HEADER = "X-Signature"
USER_AGENT = "GatewayPortal-Webhook/1"


@dataclass(frozen=True)
class CallOutcome:
    ok: bool
    status_code: int | None
    error: str | None


def record_result(workflow_name: str) -> dict:
    """Return what a ``record`` action stores for an event."""
    return {"recorded": True, "workflow": workflow_name}


def sign(secret: str, body: bytes) -> str:
    """Return the signature header value: ``sha256=`` and the HMAC-SHA256 of the exact body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


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


def post_webhook(
    session: requests.Session, url: str, secret: str, body: bytes, delivery_id: int, timeout: float
) -> CallOutcome:
    """POST ``body`` to ``url``; a 2xx answer is success, anything else a failure to retry."""
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(delivery_id),
        SIGNATURE_HEADER: sign(secret, body),
        "User-Agent": USER_AGENT,
    }
    try:
        response = session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        return CallOutcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return CallOutcome(True, response.status_code, None)
    return CallOutcome(False, response.status_code, f"HTTP {response.status_code}")
