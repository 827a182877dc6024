"""Validate and store incoming events: one atomic, idempotent bulk insert per request."""

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal.clock import utc_now
from portal.events.tables import events
from portal.extensions import db
from portal.models.events import EVENT_QUEUED

MAX_TYPE_LENGTH = 200
MAX_SOURCE_ID_LENGTH = 200
EVENT_FIELDS = {"type", "payload", "source_id"}
LOOKUP_CHUNK = 1000
RACE_RETRIES = 5


class IngestError(Exception):
    """Input the API refuses; ``status`` is the HTTP code, ``details`` the per-field problems."""

    def __init__(self, message: str, details: list[dict] | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.status = status


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


def parse_events(body: Any, max_events: int) -> list[dict]:
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
    details: list[dict] = []
    cleaned = []
    for index, item in enumerate(items):
        event, problems = _clean_event(item)
        details.extend({"index": index, **problem} for problem in problems)
        cleaned.append(event)
    if details:
        raise IngestError("Invalid event(s); nothing was stored.", details)
    return cleaned


def _clean_event(item: Any) -> tuple[dict, list[dict]]:
    """Return the normalised event and its problems (each with ``field`` and ``message``)."""
    if not isinstance(item, dict):
        return {}, [{"field": "", "message": "An event must be a JSON object."}]
    kind = item.get("type")
    payload = item.get("payload")
    source_id = item.get("source_id")
    if (
        isinstance(kind, str)
        and 0 < len(kind) <= MAX_TYPE_LENGTH
        and isinstance(payload, dict | None)
        and (source_id is None or (isinstance(source_id, str) and 0 < len(source_id) <= 200))
        and item.keys() <= EVENT_FIELDS
        and kind.strip()
    ):  # the common, valid case in one test
        return {"type": kind, "payload": payload or {}, "source_id": source_id}, []
    problems = [
        {"field": key, "message": "Unknown field (allowed: type, payload, source_id)."}
        for key in item
        if key not in EVENT_FIELDS
    ]
    if not isinstance(kind, str) or not kind.strip():
        problems.append({"field": "type", "message": "Required: a non-empty string."})
    elif len(kind) > MAX_TYPE_LENGTH:
        problems.append({"field": "type", "message": f"At most {MAX_TYPE_LENGTH} characters."})
    if payload is not None and not isinstance(payload, dict):
        problems.append({"field": "payload", "message": "Must be a JSON object."})
    if source_id is not None and (not isinstance(source_id, str) or not source_id):
        problems.append({"field": "source_id", "message": "Must be a non-empty string."})
    elif source_id is not None and len(source_id) > MAX_SOURCE_ID_LENGTH:
        problems.append(
            {"field": "source_id", "message": f"At most {MAX_SOURCE_ID_LENGTH} characters."}
        )
    return {"type": kind, "payload": payload or {}, "source_id": source_id}, problems


def store_events(client_id: int, items: list[dict]) -> IngestResult:
    """Store the events in one transaction; duplicates of a stored or earlier ``source_id`` are
    not stored again but answered with the existing id, in request order."""
    for _attempt in range(RACE_RETRIES):
        try:
            result = _store_once(client_id, items)
            db.session.commit()
            return result
        except sa.exc.IntegrityError:
            # A concurrent request stored one of our source ids first: look again.
            db.session.rollback()
    raise IngestError("Too many concurrent writes of the same source_id; retry.", status=409)


def _store_once(client_id: int, items: list[dict]) -> IngestResult:
    wanted = list(dict.fromkeys(item["source_id"] for item in items if item["source_id"]))
    known = existing_ids(client_id, wanted)
    rows: list[dict] = []
    slots: list[int] = []  # per request position: a stored id, or -(1 + index into rows)
    in_batch: dict[str, int] = {}
    for item in items:
        source_id = item["source_id"]
        if source_id is not None:
            if source_id in known:
                slots.append(known[source_id])
                continue
            if source_id in in_batch:
                slots.append(in_batch[source_id])
                continue
            in_batch[source_id] = -1 - len(rows)
        slots.append(-1 - len(rows))
        rows.append(
            {"type": item["type"], "payload": _to_json(item["payload"]), "source_id": source_id}
        )
    new_ids: list[int] = []
    if rows:
        # Batched multi-row INSERT ... RETURNING. Ids of one request grow in parameter order
        # (SQLite holds the write lock; PostgreSQL evaluates the sequence row by row), so the
        # sorted ids map onto the rows; asking SQLAlchemy to sort would insert row by row.
        new_ids = sorted(db.session.execute(_insert_statement(client_id), rows).scalars())
    event_ids = [slot if slot >= 0 else new_ids[-1 - slot] for slot in slots]
    return IngestResult(len(rows), len(items) - len(rows), event_ids)


# The per-row columns only, untyped: payloads arrive serialised and the constants of a request
# are bound once, which keeps SQLAlchemy's per-row parameter processing to three plain values.
_bulk_events = sa.table(
    "events", sa.column("id", sa.Integer), *(sa.column(name) for name in events.c.keys()[1:])
)
_to_json = json.JSONEncoder(separators=(",", ":")).encode


def _insert_statement(client_id: int) -> sa.Insert:
    dialect = db.session.get_bind().dialect
    to_db = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    now = utc_now()
    return (
        sa.insert(_bulk_events)
        .values(
            client_id=sa.bindparam("client_id", client_id, type_=sa.Integer),
            received_at=sa.bindparam("received_at", to_db(now) if to_db else now),
            status=sa.bindparam("status", EVENT_QUEUED),
            attempts=sa.bindparam("attempts", 0),
        )
        .returning(_bulk_events.c.id)
    )


def existing_ids(client_id: int, source_ids: list[str]) -> dict[str, int]:
    """Return {source_id: event id} of the client's stored events among ``source_ids``."""
    found: dict[str, int] = {}
    query = sa.select(events.c.source_id, events.c.id).where(
        events.c.client_id == sa.bindparam("client_id"),
        events.c.source_id.in_(sa.bindparam("source_ids", expanding=True)),
    )
    for start in range(0, len(source_ids), LOOKUP_CHUNK):
        chunk = source_ids[start : start + LOOKUP_CHUNK]
        found.update(db.session.execute(query, {"client_id": client_id, "source_ids": chunk}).all())
    return found
