"""Clients: creating and renaming them, their security policy and their API keys.

Functions add to the session and flush; the caller commits its unit of work.
"""

import hashlib
import secrets

import sqlalchemy as sa

from portal.accounts import AccountError, clean_name
from portal.accounts.passwords import regex_problem
from portal.extensions import db
from portal.models import Client


def create_client(name: str, contact_email: str = "") -> tuple[Client, str]:
    """Create a client and return it with its new API key (shown once, stored hashed)."""
    name = clean_name(name, "A client", Client)
    client = Client(name=name, contact_email=(contact_email or "").strip())
    db.session.add(client)
    key = rotate_api_key(client)
    db.session.flush()
    return client, key


def update_client(client: Client, name: str, contact_email: str, **policy) -> None:
    """Change a client's name, contact and security policy (``policy`` as in POLICY_FIELDS)."""
    client.name = clean_name(name, "A client", Client, exclude_id=client.id)
    client.contact_email = (contact_email or "").strip()
    set_policy(client, **policy)


MAX_RETRY_LIMIT = 1000
MAX_LOCKOUT_MINUTES = 525_600  # a year: longer locks are what deactivating a user is for

POLICY_FIELDS = (
    "password_retry_limit",
    "lockout_minutes",
    "password_regex",
    "password_rule_message",
    "password_rule_message_de",
    "require_two_factor",
)


def set_policy(
    client: Client,
    *,
    password_retry_limit: int,
    lockout_minutes: int,
    password_regex: str = "",
    password_rule_message: str = "",
    password_rule_message_de: str = "",
    require_two_factor: bool = False,
) -> None:
    """Set a client's security policy after checking the limits and the regex."""
    if password_retry_limit is None or not 1 <= password_retry_limit <= MAX_RETRY_LIMIT:
        raise AccountError(
            f"The retry limit must be between 1 and {MAX_RETRY_LIMIT}.", "password_retry_limit"
        )
    if lockout_minutes is None or not 1 <= lockout_minutes <= MAX_LOCKOUT_MINUTES:
        raise AccountError(
            f"The lockout must last between 1 and {MAX_LOCKOUT_MINUTES} minutes (a year).",
            "lockout_minutes",
        )
    password_regex = (password_regex or "").strip()
    problem = regex_problem(password_regex) if password_regex else None
    if problem:
        raise AccountError(problem, "password_regex")
    client.password_retry_limit = password_retry_limit
    client.lockout_minutes = lockout_minutes
    client.password_regex = password_regex
    client.password_rule_message = (password_rule_message or "").strip()
    client.password_rule_message_de = (password_rule_message_de or "").strip()
    client.require_two_factor = bool(require_two_factor)


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def rotate_api_key(client: Client) -> str:
    """Give the client a new API key, invalidating the old one; return the key."""
    key = "gp_" + secrets.token_urlsafe(32)
    client.api_key_hash = api_key_digest(key)
    client.api_key_prefix = key[:10]
    return key


def client_for_api_key(key: str | None) -> Client | None:
    """Return the client whose API key is ``key`` (an indexed digest lookup)."""
    if not key:
        return None
    return db.session.scalar(sa.select(Client).where(Client.api_key_hash == api_key_digest(key)))


def client_id_for_api_key(key: str | None) -> int | None:
    """Return the id of the client whose API key is ``key``, without loading the client."""
    if not key:
        return None
    return db.session.scalar(sa.select(Client.id).where(Client.api_key_hash == api_key_digest(key)))
