"""The OpenAPI 3.1 description of the HTTP API, published at ``/api/v1/openapi.json``."""

from typing import Any

from flask import jsonify

from portal.api.routes import bp

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
            "processing": {"enum": ["running", "paused"]},
            "enabled_since": _TIMESTAMP,
            "restrict_event_processor": {"type": "boolean"},
            "message": {"type": "string"},
            "bypass_roles": {"type": "array", "items": {"type": "string"}},
            "bypass_groups": {"type": "array", "items": {"type": "string"}},
            "changed_at": _TIMESTAMP,
            "changed_by": {"type": ["string", "null"]},
            "scheduled_start": _TIMESTAMP,
            "notice_minutes": {"type": "integer", "minimum": 0},
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

PATHS: dict[str, Any] = {
    "/api/v1/events": {
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
        }
    },
    "/api/v1/events/{event_id}": {
        "get": {
            "operationId": "getEvent",
            "summary": "One event of the key's client, with its deliveries",
            "parameters": [
                {
                    "name": "event_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": INT64_MAX},
                }
            ],
            "responses": {
                "200": _json(_ref("Event"), "The event and its deliveries"),
                "401": _UNAUTHORIZED,
                "404": _error("No such event for this client"),
            },
        }
    },
    "/api/v1/maintenance": {
        "get": {
            "operationId": "getMaintenance",
            "summary": "The instance-wide maintenance state",
            "security": [{"ApiKey": []}, {"Session": []}],
            "responses": {
                "200": _json(_ref("MaintenanceState"), "The state"),
                "401": _UNAUTHORIZED,
                "503": _json(
                    {
                        "allOf": [_ref("Error")],
                        "properties": {"message": {"type": "string"}},
                        "required": ["message"],
                    },
                    "A session whose user maintenance blocks (signed out; carries the message)",
                ),
            },
        }
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
        "description": "Event ingestion, event status, maintenance state and health. "
        "Errors are JSON {error, details} with a 4xx status.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Session": {"type": "apiKey", "in": "cookie", "name": "session"},
        },
    },
    "security": [{"ApiKey": []}],
}


@bp.route("/api/v1/openapi.json")
def openapi():
    """Publish the API description (no key needed)."""
    return jsonify(DOCUMENT)
