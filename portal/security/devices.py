"""The device cookie: a browser that signed in to an account before may still try it while the
account is under a distributed attack (see ``portal.security.signins``)."""

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "portal_device"
MAX_AGE = 365 * 24 * 3600
KEEP = 5  # accounts remembered per browser


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="portal-device")


def known_accounts(secret_key: str, cookie: str | None) -> list[int]:
    """Return the user ids this browser signed in as (empty for a missing or forged cookie)."""
    if not cookie:
        return []
    try:
        ids = _serializer(secret_key).loads(cookie, max_age=MAX_AGE)
    except BadSignature:
        return []
    return [value for value in ids if isinstance(value, int)] if isinstance(ids, list) else []


def cookie_value(secret_key: str, cookie: str | None, user_id: int) -> str:
    """Return the cookie after a successful sign-in as ``user_id`` (most recent first)."""
    ids = [user_id, *(i for i in known_accounts(secret_key, cookie) if i != user_id)][:KEEP]
    return _serializer(secret_key).dumps(ids)
