"""Validate and store incoming events: one atomic, idempotent bulk insert per request."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.core.inputs import UNSTORABLE, storable
from portal.events import bulk, counters
from portal.extensions import db
from portal.models.events import EVENT_QUEUED

MAX_TYPE_LENGTH = 200
MAX_SOURCE_ID_LENGTH = 200
EVENT_FIELDS = {"type", "payload", "source_id"}
RACE_RETRIES = 6  # the first attempt does not look source ids up


class IngestError(Exception):
    """Input the API refuses; ``status`` is the HTTP code, ``details`` the per-field problems."""

    def __init__(self, message: str, details: list[dict] | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.status = status


Item = tuple[str, str, str | None]  # a valid event: type, payload as JSON text, source_id


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    event_ids: list[int]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> Any:
    """Decode a JSON request body, refusing NaN/Infinity and absurd nesting."""
    if not raw.strip():
        raise IngestError("The request body is empty; send a JSON object.")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise IngestError("The request body is not valid JSON.", [{"message": str(exc)[:200]}])


def parse_events(body: Any, max_events: int) -> list[Item]:
    """Return the events of a single-event or ``{"events": [...]}`` body, or raise IngestError."""
    if not isinstance(body, dict):
        raise IngestError('The body must be a JSON object: one event or {"events": [...]}.')
    if "events" in body:
        extra = sorted(set(body) - {"events"})
        if extra:
            details = [
                {"field": key, "message": "Unexpected field next to events."} for key in extra
            ]
            raise IngestError("A batch body holds only the events list.", details)
        items = body["events"]
        if not isinstance(items, list):
            raise IngestError(
                "events must be a list.", [{"field": "events", "message": "Not a list."}]
            )
        if not items:
            raise IngestError(
                "The batch is empty.", [{"field": "events", "message": "Empty list."}]
            )
        if len(items) > max_events:
            raise IngestError(
                f"Too many events: {len(items)} (at most {max_events} per request).",
                [{"field": "events", "message": f"At most {max_events} events per request."}],
                status=413,
            )
    else:
        items = [body]
    events: list[Item] = []
    for item in items:
        # The common, valid case in one test per event; anything else is diagnosed below.
        if isinstance(item, dict) and item.keys() <= EVENT_FIELDS:
            kind = item.get("type")
            payload = item.get("payload")
            source_id = item.get("source_id")
            if (
                isinstance(kind, str)
                and 0 < len(kind) <= MAX_TYPE_LENGTH
                and (payload is None or isinstance(payload, dict))
                and (
                    source_id is None
                    or (isinstance(source_id, str) and 0 < len(source_id) <= MAX_SOURCE_ID_LENGTH)
                )
                and not kind.isspace()
                and storable(kind)
                and (source_id is None or storable(source_id))
                and (text := payload_json(payload or {})) is not None
            ):
                events.append((kind, text, source_id))
                continue
        raise IngestError("Invalid event(s); nothing was stored.", _problems(items))
    return events


def payload_json(payload: dict) -> str | None:
    """Serialise a payload compactly, or return None if it is not storable JSON."""
    try:
        text = orjson.dumps(payload)
        # orjson writes an infinite float (1e400 decodes to one) as null: only payloads with a
        # null need the strict encoder's judgement.
        if b"null" not in text:
            return text.decode()
    except orjson.JSONEncodeError:
        pass  # integers beyond 64 bits, lone surrogates: the standard encoder writes them
    try:
        return _to_json(payload)
    except (ValueError, TypeError, RecursionError):
        return None  # infinite or NaN numbers, absurd nesting


_to_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _problems(items: list) -> list[dict]:
    """Return every problem of the batch, each with the event's ``index`` and the ``field``."""
    return [
        {"index": index, **problem} for index, item in enumerate(items) for problem in _check(item)
    ]


def _check(item: Any) -> list[dict]:
    """Return the problems of one event (each with ``field`` and ``message``)."""
    if not isinstance(item, dict):
        return [{"field": "", "message": "An event must be a JSON object."}]
    kind = item.get("type")
    payload = item.get("payload")
    source_id = item.get("source_id")
    problems = [
        {"field": key, "message": "Unknown field (allowed: type, payload, source_id)."}
        for key in item
        if key not in EVENT_FIELDS
    ]
    if not isinstance(kind, str) or not kind.strip():
        problems.append({"field": "type", "message": "Required: a non-empty string."})
    elif len(kind) > MAX_TYPE_LENGTH:
        problems.append({"field": "type", "message": f"At most {MAX_TYPE_LENGTH} characters."})
    elif not storable(kind):
        problems.append({"field": "type", "message": UNSTORABLE})
    if payload is not None and not isinstance(payload, dict):
        problems.append({"field": "payload", "message": "Must be a JSON object."})
    elif payload_json(payload or {}) is None:
        problems.append({"field": "payload", "message": "Not storable as JSON."})
    if source_id is not None and (not isinstance(source_id, str) or not source_id):
        problems.append({"field": "source_id", "message": "Must be a non-empty string."})
    elif source_id is not None and len(source_id) > MAX_SOURCE_ID_LENGTH:
        problems.append(
            {"field": "source_id", "message": f"At most {MAX_SOURCE_ID_LENGTH} characters."}
        )
    elif source_id is not None and not storable(source_id):
        problems.append({"field": "source_id", "message": UNSTORABLE})
    return problems


def store_events(client_id: int, items: list[Item]) -> IngestResult:
    """Store the events in one transaction; duplicates of a stored or earlier ``source_id`` are
    not stored again but answered with the existing id, in request order."""
    # Most batches carry fresh source ids, so the first attempt inserts without looking them
    # up and lets the unique constraint report a stored one; only then are they looked up.
    look_up = False
    for _attempt in range(RACE_RETRIES):
        try:
            result = _store_once(client_id, items, look_up)
            db.session.commit()
            return result
        except sa.exc.IntegrityError:
            # A source id is stored already, or a concurrent request stored it first: look again.
            db.session.rollback()
            look_up = True
    raise IngestError("Too many concurrent writes of the same source_id; retry.", status=409)


def _store_once(client_id: int, items: list[Item], look_up: bool) -> IngestResult:
    connection = db.session.connection()
    known: dict[str, int] = {}
    if look_up:
        wanted = list(dict.fromkeys(source for _, _, source in items if source is not None))
        known = bulk.existing_ids(connection, client_id, wanted)
    rows: list[bulk.Row] = []
    slots: list[int] = []  # per request position: a stored id, or -(1 + index into rows)
    for kind, payload_text, source_id in items:
        if source_id is not None:
            if source_id in known:
                slots.append(known[source_id])
                continue
            known[source_id] = -1 - len(rows)  # a repeat later in the batch gets this row
        slots.append(-1 - len(rows))
        rows.append((kind, payload_text, source_id))
    new_ids = insert_queued(connection, client_id, utc_now(), rows)
    event_ids = [slot if slot >= 0 else new_ids[-1 - slot] for slot in slots]
    return IngestResult(len(rows), len(items) - len(rows), event_ids)


def insert_queued(
    connection: sa.Connection, client_id: int, received_at: datetime, rows: list[bulk.Row]
) -> list[int]:
    """Insert queued events and count them, in the connection's transaction; return their ids.

    Every path that creates events (the API, scheduled triggers) goes through here, so the
    queued counter always moves with the rows.
    """
    if not rows:
        return []
    new_ids = bulk.insert_events(connection, client_id, received_at, rows)
    counters.add(connection, {(client_id, EVENT_QUEUED): len(rows)})
    return new_ids
