"""``/api/v1/maintenance``: read the state (and wait until quiet), change it with a token.

A change goes through the same function as the settings page (``changes.save_by``): the same
validation, lockout protection and audit. The ``ETag`` is the state's version; a change with a
stale ``If-Match`` applies nothing (412).
"""

from flask import current_app, g, jsonify, request
from flask_login import current_user

from portal import accounts
from portal.accounts import tokens
from portal.accounts.authorization import is_instance_admin
from portal.accounts.permissions import CLIENT_SETTINGS_MANAGE
from portal.api.auth import authenticate, has_bearer, token_required
from portal.api.blueprint import api_error, bp, key_client
from portal.api.params import BadField
from portal.audit.concurrency import fingerprint
from portal.events import quiet
from portal.extensions import db
from portal.maintenance import load_state
from portal.maintenance.changes import (
    LockoutError,
    MaintenanceError,
    lock_state,
    save_by,
)
from portal.maintenance.impact import Impact, describe
from portal.maintenance.schedule import parse_start
from portal.models import MaintenanceState, User

DEFAULT_WAIT_SECONDS = 30
FLAGS = ("enabled", "restrict_event_processor")
WRITABLE = (
    *FLAGS,
    "message",
    "bypass_roles",
    "bypass_groups",
    "scheduled_start",
    "notice_minutes",
    "expected_end",
)


def version(state: MaintenanceState) -> str:
    """Return the state's version (its ``ETag`` without the quotes)."""
    return fingerprint(state.to_dict())


def answer(state: MaintenanceState, admin: bool, status: int = 200, **extra):
    """Return the state as this caller may read it (``admin``: an instance admin reads it all),
    with processing, calls in flight and ETag."""
    full = state.to_dict()
    body = dict(full) if admin else state.to_public_dict()
    body["processing"], body["in_flight"] = quiet.processing()
    body["version"] = fingerprint(full)  # the same as version(state), computed once
    response = jsonify(body | extra)
    response.status_code = status
    response.headers["ETag"] = f'"{body["version"]}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/v1/maintenance")
def maintenance_state():
    """Show the state to a token (maintenance:read), an API key or a signed-in user; with
    ``wait=paused``, once processing is paused (or at ``timeout`` seconds)."""
    admin = False
    if has_bearer():
        found = authenticate(tokens.MAINTENANCE_READ)
        if not isinstance(found, tokens.Access):
            return found
        # is_instance_admin without loading the user
        admin = CLIENT_SETTINGS_MANAGE in found.permissions
    elif current_user.is_authenticated:
        admin = is_instance_admin(current_user)
    elif key_client() is None:
        return api_error(401, "A valid X-API-Key header or a personal access token is required.")
    wait = request.args.get("wait")
    if wait is not None:
        if wait != quiet.PAUSED:
            return api_error(400, "wait: the only value is paused.", ["wait"])
        try:
            timeout = float(request.args.get("timeout", DEFAULT_WAIT_SECONDS))
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= quiet.MAX_WAIT_SECONDS:
            return api_error(
                400, f"timeout: seconds from 0 to {quiet.MAX_WAIT_SECONDS}.", ["timeout"]
            )
        quiet.wait_until_paused(timeout)
    return answer(load_state(), admin)


@bp.patch("/api/v1/maintenance")
@token_required(tokens.MAINTENANCE_WRITE)
def maintenance_update():
    """Change the state as the token's user, with the page's rules; 412 on a stale If-Match."""
    user: User = g.api_token.user
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        return api_error(400, "Send a JSON object with the fields to change.", ["body"])
    try:
        changes = _parse(body)
    except BadField as exc:
        return api_error(400, f"{exc.field}: {exc}", [exc.field])
    state = lock_state()
    expected = request.headers.get("If-Match")
    if expected is not None and not _matches(expected, version(state)):
        db.session.rollback()
        return answer(
            load_state(),
            is_instance_admin(user),
            412,
            error="The state changed since the version in If-Match; nothing was changed.",
            details=["If-Match"],
        )
    impact = describe(state, changes, user)
    available = bool(current_app.config["MAINTENANCE_MODE_AVAILABLE"])
    try:
        changed = save_by(user, state, changes, available=available)
    except LockoutError:
        db.session.rollback()
        return api_error(
            409,
            "Refused: you would lock yourself out. Your token's user must hold one of the "
            "bypass roles and one of the bypass groups while maintenance mode is on.",
            ["bypass_roles", "bypass_groups"],
        )
    except MaintenanceError as exc:
        db.session.rollback()
        if exc.field is not None:
            return api_error(400, f"{exc.field}: {exc}", [exc.field])
        return api_error(409, str(exc))
    except accounts.AccountError as exc:  # the guardrails: nobody left to end it, self-lockout
        db.session.rollback()
        return api_error(409, str(exc))
    db.session.commit()
    return answer(
        load_state(), is_instance_admin(user), changed=changed is not None, effect=effect(impact)
    )


def _matches(header: str, current: str) -> bool:
    wanted = [part.strip().removeprefix("W/").strip('"') for part in header.split(",")]
    return "*" in wanted or current in wanted


def _parse(body: dict) -> dict:
    """Return the changes in ``body`` as ``update_state`` takes them; types only: the rules
    are ``save_by``'s."""
    unknown = sorted(set(body) - set(WRITABLE))
    if unknown:
        raise BadField(unknown[0], f"unknown field; the fields are {', '.join(WRITABLE)}.")
    if not body:
        raise BadField("body", f"send at least one of {', '.join(WRITABLE)}.")
    changes: dict = {}
    for name in FLAGS:
        if name in body:
            if not isinstance(body[name], bool):
                raise BadField(name, "true or false.")
            changes[name] = body[name]
    if "message" in body:
        if not isinstance(body["message"], str):
            raise BadField("message", "a string.")
        changes["message"] = body["message"]
    named = (("bypass_roles", accounts.find_roles), ("bypass_groups", accounts.find_groups))
    for name, find in named:
        if name in body:
            names = body[name]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise BadField(name, "a list of names.")
            try:
                changes[name] = find(names)
            except accounts.AccountError as exc:
                raise BadField(name, str(exc)) from None
    for name in ("scheduled_start", "expected_end"):
        if name in body:
            moment = body[name]
            if moment is not None and not isinstance(moment, str):
                raise BadField(name, "an ISO 8601 UTC time or null.")
            try:
                changes[name] = None if moment is None else parse_start(moment)
            except MaintenanceError as exc:
                raise BadField(name, str(exc)) from None
    if "notice_minutes" in body:
        notice = body["notice_minutes"]
        if not isinstance(notice, int) or isinstance(notice, bool):
            raise BadField("notice_minutes", "a whole number of minutes.")
        changes["notice_minutes"] = notice
    return changes


def effect(impact: Impact) -> dict:
    """Return what the change did, as the page's review step showed it before confirming."""
    if impact.pauses:
        processing = "pauses"
    elif impact.lifts:
        processing = "resumes"
    elif impact.stays_paused:
        processing = "stays_paused"
    elif impact.restrict_later:
        processing = "pauses_at_next_start"
    else:
        processing = "keeps_running"
    held = impact.queued if impact.pauses or impact.stays_paused else 0
    return {
        "changes": impact.summary,
        "signed_out": impact.signed_out,
        "processing": processing,
        "events_held": held,
        "events_released": impact.queued if impact.lifts else 0,
        "clients": impact.clients,
        "scheduled_start": impact.scheduled_start.isoformat() + "Z"
        if impact.scheduled_start
        else None,
        "blocked": {
            "own_client": impact.own_blocked,
            "other_clients": {other.name: other.blocked for other in impact.others},
        },
        "still_allowed": {
            "own_client": impact.own_allowed,
            "other_clients": {other.name: other.allowed for other in impact.others},
        },
    }
