"""One-time reveals: a new API key or signing secret that its page shows until dismissed.

The create (or rotate) POST keeps the secret here and redirects to a GET page, so a reload shows
the same secret instead of submitting the form again. The secret waits in the session cookie,
**encrypted** (AES-GCM, with a key derived from ``SECRET_KEY``), because Flask's session is
signed but readable: in plain text it would sit in the browser's cookie store and in any log of
request headers. The encryption is bound to the signed-in user and to their session row
(``portal.security.sessions``), so the value opens only while that session lasts: another user
of the same browser, a copied cookie after sign-out, or a session ended by a password change
sees nothing. Dismissing removes it; signing out or in clears it with the rest of the session.
No database row, so every web worker can show it (they share ``SECRET_KEY``).
"""

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, session
from flask_login import current_user

KEY = "reveals"  # the session key: a list of [name, sealed value], oldest first
KEEP = 5  # secrets waiting at once per session; older ones are dropped
NONCE_BYTES = 12


def _cipher() -> AESGCM:
    secret = current_app.config["SECRET_KEY"]
    material = secret.encode() if isinstance(secret, str) else secret
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal reveal").derive(
        material
    )
    return AESGCM(key)


def _name(kind: str, owner_id: int) -> str:
    return f"{kind}:{owner_id}"


def _binding(name: str) -> bytes:
    """Return what a sealed value is bound to: what it is, the user and their session row."""
    token = getattr(current_user, "session_token", None) or ""
    session_digest = hashlib.sha256(token.encode()).hexdigest()
    return f"{name}|{current_user.id}|{session_digest}".encode()


def _entries() -> list[list[str]]:
    entries = session.get(KEY)
    if not isinstance(entries, list):
        return []
    return [list(e) for e in entries if isinstance(e, list | tuple) and len(e) == 2]


def keep(kind: str, owner_id: int, secret: str) -> None:
    """Hold ``secret`` for the signed-in session until it is dismissed (replacing an older one
    of the same ``kind`` and owner)."""
    name = _name(kind, owner_id)
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + _cipher().encrypt(nonce, secret.encode(), _binding(name))
    entries = [e for e in _entries() if e[0] != name]
    entries.append([name, base64.urlsafe_b64encode(sealed).decode()])
    session[KEY] = entries[-KEEP:]


def peek(kind: str, owner_id: int) -> str | None:
    """Return the secret held for this kind and owner in this session, or None."""
    name = _name(kind, owner_id)
    for entry_name, value in _entries():
        if entry_name != name:
            continue
        try:
            sealed = base64.urlsafe_b64decode(value.encode())
            nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
            return _cipher().decrypt(nonce, body, _binding(name)).decode()
        except (InvalidTag, ValueError):
            return None  # another user's or session's value, or a new SECRET_KEY
    return None


def dismiss(kind: str, owner_id: int) -> None:
    """Forget the secret held for this kind and owner."""
    name = _name(kind, owner_id)
    entries = [e for e in _entries() if e[0] != name]
    if entries:
        session[KEY] = entries
    else:
        session.pop(KEY, None)


def forget_all() -> None:
    """Forget every secret held in this session (signing out)."""
    session.pop(KEY, None)
