"""The OpenAPI 3.1 description of the HTTP API, published at ``/api/v1/openapi.json``."""

from typing import Any

from flask import jsonify

from portal.api.blueprint import bp

MAX_BATCH = 1000  # the default INGEST_MAX_EVENTS; SPEC §5 caps a batch at 1000 events
INT64_MAX = 2**63 - 1


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


_TIMESTAMP = {"type": ["string", "null"], "description": "ISO 8601 UTC timestamp"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "details"],
        "properties": {
            "error": {"type": "string"},
            "details": {"type": "array", "description": "What was wrong, e.g. the index and field"},
        },
    },
    "EventIn": {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": {
            "type": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": "^[^\\u0000]*[^\\u0000\\s][^\\u0000]*$",
                "description": "Not blank; no NUL characters or unpaired surrogates",
            },
            "payload": {
                "type": ["object", "null"],
                "description": "Any JSON object (null or omitted: {})",
            },
            "source_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": "^[^\\u0000]+$",
                "description": "Idempotency key, unique per client: a repeat is stored once "
                "(no NUL characters or unpaired surrogates)",
            },
        },
    },
    "EventBatch": {
        "type": "object",
        "required": ["events"],
        "additionalProperties": False,
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": _ref("EventIn"),
                "description": "Atomic: one invalid event rejects the whole batch",
            }
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["accepted", "duplicates", "event_ids", "processing"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "duplicates": {"type": "integer", "minimum": 0},
            "event_ids": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "One id per submitted event, in request order",
            },
            "processing": {"type": "string", "enum": ["running", "paused"]},
        },
    },
    "Delivery": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "integer", "description": "Also the webhook's Idempotency-Key"},
            "status": {"type": "string"},
            "attempts": {"type": "integer"},
            "response_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
        },
    },
    "Event": {
        "type": "object",
        "required": ["id", "type", "payload", "status", "received_at", "deliveries"],
        "properties": {
            "id": {"type": "integer"},
            "type": {"type": "string"},
            "payload": {},
            "source_id": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["queued", "processed", "failed"]},
            "received_at": _TIMESTAMP,
            "started_at": _TIMESTAMP,
            "processed_at": _TIMESTAMP,
            "attempts": {"type": "integer"},
            "last_error": {"type": ["string", "null"]},
            "deliveries": {"type": "array", "items": _ref("Delivery")},
        },
    },
    "MaintenanceState": {
        "type": "object",
        "description": "API keys and users without client_settings:manage get enabled, "
        "restrict_event_processor, processing, message and scheduled_start; instance admins "
        "also get who changed it, when, the bypass selection and the notice period.",
        "required": [
            "enabled",
            "restrict_event_processor",
            "processing",
            "message",
            "scheduled_start",
        ],
        "properties": {
            "enabled": {"type": "boolean"},
            "processing": {
                "enum": ["running", "pausing", "paused"],
                "description": "pausing: the restriction has committed but webhook calls sent "
                "before it are still in flight",
            },
            "in_flight": {
                "type": "integer",
                "minimum": 0,
                "description": "Webhook calls in flight",
            },
            "version": {"type": "string", "description": "The state's version (the ETag)"},
            "enabled_since": _TIMESTAMP,
            "restrict_event_processor": {"type": "boolean"},
            "message": {"type": "string"},
            "bypass_roles": {"type": "array", "items": {"type": "string"}},
            "bypass_groups": {"type": "array", "items": {"type": "string"}},
            "changed_at": _TIMESTAMP,
            "changed_by": {"type": ["string", "null"]},
            "scheduled_start": _TIMESTAMP,
            "notice_minutes": {"type": "integer", "minimum": 0},
            "expected_end": {
                "type": ["string", "null"],
                "description": "ISO 8601 UTC: when maintenance is expected to end (shown on the "
                "banners; ending stays manual)",
            },
        },
    },
    "MaintenanceChange": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "description": "Any of the fields; omitted ones keep their value. The page's rules apply.",
        "properties": {
            "enabled": {"type": "boolean"},
            "restrict_event_processor": {"type": "boolean"},
            "message": {"type": "string", "maxLength": 2000},
            "bypass_roles": {"type": "array", "items": {"type": "string"}},
            "bypass_groups": {"type": "array", "items": {"type": "string"}},
            "scheduled_start": {
                "type": ["string", "null"],
                "description": "ISO 8601 UTC, e.g. 2026-12-01T18:00Z; null cancels",
            },
            "notice_minutes": {"type": "integer", "minimum": 0, "maximum": 10080},
            "expected_end": {
                "type": ["string", "null"],
                "description": "ISO 8601 UTC, after the start; null clears it. Informational: "
                "maintenance still ends only when disabled",
            },
        },
    },
    "MaintenanceChanged": {
        "allOf": [_ref("MaintenanceState")],
        "type": "object",
        "required": ["effect", "changed"],
        "properties": {
            "changed": {"type": "boolean"},
            "effect": {
                "type": "object",
                "description": "What the change did, as the page's review step shows it",
                "required": ["changes", "signed_out", "processing", "events_held", "blocked"],
                "properties": {
                    "changes": {"type": "array", "items": {"type": "string"}},
                    "signed_out": {"type": "integer", "minimum": 0},
                    "processing": {
                        "enum": [
                            "pauses",
                            "resumes",
                            "stays_paused",
                            "pauses_at_next_start",
                            "keeps_running",
                        ]
                    },
                    "events_held": {"type": "integer", "minimum": 0},
                    "events_released": {"type": "integer", "minimum": 0},
                    "clients": {"type": "integer", "minimum": 0},
                    "scheduled_start": _TIMESTAMP,
                    "blocked": {"type": "object"},
                    "still_allowed": {"type": "object"},
                },
            },
        },
    },
    "EventSummary": {
        "type": "object",
        "required": ["id", "client_id", "client", "type", "status", "held", "received_at"],
        "properties": {
            "id": {"type": "integer"},
            "client_id": {"type": "integer"},
            "client": {"type": "string"},
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "processed", "failed"]},
            "held": {
                "type": "boolean",
                "description": "Queued while the processor restriction holds it",
            },
            "received_at": _TIMESTAMP,
            "processed_at": _TIMESTAMP,
            "attempts": {"type": "integer"},
            "last_error": {"type": ["string", "null"]},
        },
    },
    "EventPage": {
        "type": "object",
        "required": ["events", "next_before", "processing"],
        "properties": {
            "events": {"type": "array", "items": _ref("EventSummary")},
            "next_before": {
                "type": ["integer", "null"],
                "description": "Pass as before for the next (older) page; null on the last",
            },
            "processing": {"type": "string", "enum": ["running", "paused"]},
        },
    },
    "Replayed": {
        "type": "object",
        "required": ["event", "processing"],
        "properties": {
            "event": _ref("Event"),
            "processing": {"type": "string", "enum": ["running", "paused"]},
        },
    },
    "Retried": {
        "type": "object",
        "required": ["delivery", "processing"],
        "properties": {
            "delivery": _ref("Delivery"),
            "processing": {"type": "string", "enum": ["running", "paused"]},
        },
    },
    "Resumed": {
        "type": "object",
        "required": ["workflow", "processing"],
        "properties": {
            "workflow": {
                "type": "object",
                "required": ["id", "name", "client_id", "paused"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "client_id": {"type": "integer"},
                    "paused": {"type": "boolean"},
                },
            },
            "processing": {"type": "string", "enum": ["running", "paused"]},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "maintenance", "event_processor"],
        "properties": {
            "status": {
                "type": "string",
                "enum": ["ok", "degraded"],
                "description": "degraded: the processor's webhook pump cannot read the "
                "maintenance restriction, so it holds every webhook call (see since, detail)",
            },
            "maintenance": {"type": "boolean"},
            "event_processor": {"type": "string", "enum": ["running", "paused", "stopped"]},
            "webhooks": {"const": "held", "description": "Only while degraded"},
            "error": {"type": "string"},
            "since": {"type": "string", "format": "date-time"},
            "detail": {"type": "string"},
        },
    },
}

_UNAUTHORIZED = _error("Missing or unknown API key")
_NO_TOKEN = _error("Missing, unknown, expired or revoked personal access token")
_SCOPE = _json(
    {
        "allOf": [_ref("Error")],
        "properties": {"scope": {"type": "string"}},
        "required": ["scope"],
    },
    "The token lacks the scope, or its user the permission behind it (named)",
)
_BLOCKED = _json(
    {
        "allOf": [_ref("Error")],
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
    "Maintenance blocks the caller (a session, or a token's user): carries the message",
)
_ETAG = {"ETag": {"description": "The state's version", "schema": {"type": "string"}}}

_ID = {"type": "integer", "minimum": 1, "maximum": INT64_MAX}
_WORKFLOW_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_MOMENT = {"type": "string", "description": "ISO 8601; UTC unless it names an offset"}
_LIST_PARAMETERS = [
    _query("status", {"enum": ["queued", "processed", "failed"]}, "Only events in this status"),
    _query("type", {"type": "string", "maxLength": 200}, "Only events of this type"),
    _query("client", {"type": "string"}, "One of the user's clients, by id or name"),
    _query("received_after", _MOMENT, "Received at or after this time"),
    _query("received_before", _MOMENT, "Received before this time"),
    _query("before", _ID, "Only ids below this one (the previous page's next_before)"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (100)"),
]


def _write(operation_id: str, summary: str, name: str, schema: dict, answer: str) -> dict:
    """A recovery write (scope events:write): the events page's button over the API."""
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "security": [{"Token": []}],
            "parameters": [{"name": name, "in": "path", "required": True, "schema": schema}],
            "responses": {
                "200": _json(_ref(answer), "Done (held while the processor is restricted)"),
                "401": _NO_TOKEN,
                "403": _SCOPE,
                "404": _error("No such row among the clients the token's user may see"),
                "409": _error("It does not apply to the row as it is now (the reason)"),
                "503": _BLOCKED,
            },
        }
    }


PATHS: dict[str, Any] = {
    "/api/v1/events": {
        "get": {
            "operationId": "listEvents",
            "summary": "The events of the token's user's clients, newest first, by cursor",
            "security": [{"Token": []}],
            "parameters": _LIST_PARAMETERS,
            "responses": {
                "200": _json(_ref("EventPage"), "A page of events"),
                "400": _error("A parameter that is not allowed; details names it"),
                "401": _NO_TOKEN,
                "403": _SCOPE,
                "503": _BLOCKED,
            },
        },
        "post": {
            "operationId": "ingestEvents",
            "summary": "Store one event or an atomic batch; accepted even during maintenance",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"oneOf": [_ref("EventIn"), _ref("EventBatch")]}}
                },
            },
            "responses": {
                "202": _json(_ref("Accepted"), "Stored (held while processing is paused)"),
                "400": _error("Invalid JSON, an invalid event (index and field), an empty batch"),
                "401": _UNAUTHORIZED,
                "409": _error("Concurrent writes of the same source_id kept colliding; retry"),
                "413": _error("Body or batch too large"),
            },
        },
    },
    "/api/v1/events/{event_id}": {
        "get": {
            "operationId": "getEvent",
            "summary": "One event of the key's client (or a token's user's clients), with "
            "its deliveries",
            "security": [{"ApiKey": []}, {"Token": []}],
            "parameters": [{"name": "event_id", "in": "path", "required": True, "schema": _ID}],
            "responses": {
                "200": _json(_ref("Event"), "The event and its deliveries"),
                "401": _UNAUTHORIZED,
                "403": _SCOPE,
                "404": _error("No such event for this client"),
                "503": _BLOCKED,
            },
        }
    },
    "/api/v1/events/{event_id}/replay": _write(
        "replayEvent",
        "Queue a finished event again: its workflows run anew (new deliveries)",
        "event_id",
        _ID,
        "Replayed",
    ),
    "/api/v1/deliveries/{delivery_id}/retry": _write(
        "retryDelivery",
        "Make a failed delivery of the event's latest run due now (same webhook-id)",
        "delivery_id",
        _ID,
        "Retried",
    ),
    "/api/v1/workflows/{workflow_id}/resume": _write(
        "resumeWorkflow",
        "Resume a paused webhook endpoint: its held deliveries go out again",
        "workflow_id",
        _WORKFLOW_ID,
        "Resumed",
    ),
    "/api/v1/maintenance": {
        "get": {
            "operationId": "getMaintenance",
            "summary": "The instance-wide maintenance state; with wait=paused, once quiet",
            "security": [{"ApiKey": []}, {"Session": []}, {"Token": []}],
            "parameters": [
                {
                    "name": "wait",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["paused"]},
                    "description": "Answer once processing is paused (or at the timeout)",
                },
                {
                    "name": "timeout",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "number", "minimum": 0, "maximum": 120},
                    "description": "Seconds to wait at most (up to 120; default 30)",
                },
            ],
            "responses": {
                "200": {**_json(_ref("MaintenanceState"), "The state"), "headers": _ETAG},
                "400": _error("A wait or timeout that is not allowed (named)"),
                "401": _UNAUTHORIZED,
                "403": _SCOPE,
                "503": _BLOCKED,
            },
        },
        "patch": {
            "operationId": "changeMaintenance",
            "summary": "Change the state (scope maintenance:write) with the settings page's rules",
            "security": [{"Token": []}],
            "parameters": [
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "The ETag the change is based on; a stale one is refused",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("MaintenanceChange")}},
            },
            "responses": {
                "200": {**_json(_ref("MaintenanceChanged"), "Saved"), "headers": _ETAG},
                "400": _error("Bad input; details names the field"),
                "401": _NO_TOKEN,
                "403": _SCOPE,
                "409": _error("Refused: it would lock out the token's user or every admin"),
                "412": {
                    **_json(_ref("MaintenanceState"), "Stale If-Match: the current state"),
                    "headers": _ETAG,
                },
                "503": _BLOCKED,
            },
        },
    },
    "/healthz": {
        "get": {
            "operationId": "health",
            "summary": "Liveness: 200 while the database is reachable",
            "security": [],
            "responses": {
                "200": _json(_ref("Health"), "The app reaches its database"),
                "503": _json(
                    {"type": "object", "required": ["status"], "properties": {"status": {}}},
                    "The database is unreachable",
                ),
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Gateway Portal API",
        "version": "1",
        "description": "Event ingestion, event status and recovery, maintenance state and health. "
        "Errors are JSON {error, details} with a 4xx status.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "Token": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal access token (gpat_...) with the operation's scope",
            },
        },
    },
    "security": [{"ApiKey": []}],
}


@bp.route("/api/v1/openapi.json")
def openapi():
    """Publish the API description (no key needed)."""
    return jsonify(DOCUMENT)
