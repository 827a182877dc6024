"""Standard Webhooks signing: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``.

A secret is ``whsec_`` followed by the base64 of the key bytes; the signature is
``v1,`` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), so receivers verify with the
``standardwebhooks`` libraries.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format marker, not a secret)
KEY_BYTES = 24


def new_secret() -> str:
    """Return a fresh random ``whsec_`` secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes | None:
    """Return the key bytes of a ``whsec_`` secret, or None if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value for one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the Standard Webhooks headers (and ``Idempotency-Key``) of one call."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
        "Idempotency-Key": message_id,
    }
