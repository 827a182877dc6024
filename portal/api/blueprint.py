"""The API blueprint and what its views share: the JSON error answer and the key's client.

The views live in ``routes``, ``events``, ``maintenance`` and ``openapi``; importing
:mod:`portal.api` registers them all on :data:`bp`.
"""

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from portal import clients
from portal.models import Client

bp = Blueprint("api", __name__)


def api_error(status: int, error: str, details: list | None = None):
    """Return the API's JSON error answer."""
    return jsonify(error=error, details=details or []), status


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Answer an HTTP error raised inside an API view as JSON too."""
    return api_error(error.code or 500, (error.description or error.name).strip())


def key_client() -> Client | None:
    """Return the client whose key is in ``X-API-Key``, or None."""
    return clients.client_for_api_key(request.headers.get("X-API-Key"))
