"""Passwords: hashing, each client's password policy, the strength check, and lifting a lockout.

Every place that sets a new password (the user forms, the own-password page, ``flask users`` and
``flask setup``) asks :func:`password_problem`: the client's own rule first, then zxcvbn's
estimate of how guessable the password is.
"""

import re
import secrets
import threading
from collections.abc import Iterable

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from portal.models import Client, User
from portal.security import signins

MIN_PASSWORD_LENGTH = 8
DEFAULT_RULE_MESSAGE = f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
STRENGTH_HINT = {
    "en": "Common and easily guessed passwords are refused.",
    "de": "Häufige und leicht zu erratende Passwörter werden abgelehnt.",
}
TOO_EASY = "This password is too easy to guess:"
# zxcvbn refuses longer input (4.5) and its cost grows with the length; what follows the
# first 72 characters only adds strength, so the estimate of the start is a safe lower bound.
ESTIMATED_LENGTH = 72
# zxcvbn keeps the user inputs in a module-level dictionary while it estimates: one at a time,
# or a concurrent request could check against another user's words.
_estimating = threading.Lock()


def hash_password(password: str) -> str:
    """Return the salted hash stored for ``password``."""
    return generate_password_hash(password)


def check_password_hash_only(password_hash: str, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash``."""
    return check_password_hash(password_hash, password or "")


def check_password(user: User, password: str) -> bool:
    """Return whether ``password`` is the user's password."""
    return check_password_hash_only(user.password_hash, password)


def rule_message(client: Client, lang: str = "en") -> str:
    """Return the client's password rule in ``lang`` (German when asked for and set)."""
    if lang.startswith("de") and client.password_rule_message_de:
        return client.password_rule_message_de
    if client.password_rule_message:
        return client.password_rule_message
    if client.password_regex:
        return "The password does not meet the policy."
    return DEFAULT_RULE_MESSAGE


def requirements(client: Client, lang: str = "en") -> str:
    """Return the help shown next to a new-password field: the client's rule and the strength."""
    return f"{rule_message(client, lang)} {STRENGTH_HINT['de' if lang.startswith('de') else 'en']}"


def password_problem(
    client: Client, password: str, lang: str = "en", user_inputs: Iterable[str] = ()
) -> str | None:
    """Return why ``password`` may not be set, else None: the client's rule message if it
    breaks the client's policy, else what makes it guessable (``user_inputs``: the account's
    own words, e.g. its email address, which a password must not lean on)."""
    password = password or ""
    if client.password_regex:
        try:
            ok = re.fullmatch(client.password_regex, password) is not None
        except re.error:
            ok = len(password) >= MIN_PASSWORD_LENGTH
    else:
        ok = len(password) >= MIN_PASSWORD_LENGTH
    if not ok:
        return rule_message(client, lang)
    return strength_problem(password, [*user_inputs, client.name])


def strength_problem(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Return zxcvbn's warning and suggestions if ``password`` scores below
    ``PASSWORD_MIN_SCORE`` (0 to 4), else None."""
    with _estimating:
        result = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=[w for w in user_inputs if w])
    if result["score"] >= current_app.config["PASSWORD_MIN_SCORE"]:
        return None
    feedback = result["feedback"]
    advice = [feedback["warning"], *feedback["suggestions"]]
    advice = [text for text in advice if text] or ["Make it longer, with uncommon words."]
    return " ".join([TOO_EASY, *advice])


def account_words(email: str) -> list[str]:
    """Return the words of an email address a password must not be built from."""
    email = (email or "").strip().lower()
    words = [word for word in re.split(r"[^a-z0-9]+", email) if len(word) > 2]
    return [email, email.partition("@")[0], *words]


def generate_password(client: Client, email: str) -> str:
    """Return a random password that meets the client's rule and the strength check."""
    for _ in range(100):
        password = secrets.token_urlsafe(18)
        if password_problem(client, password, user_inputs=account_words(email)) is None:
            return password
    raise ValueError(f"The password rule of {client.name} refuses every generated password.")


def regex_problem(pattern: str) -> str | None:
    """Return why ``pattern`` is not a valid regular expression, else None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"Not a valid regular expression: {exc}"
    return None


def unlock(user: User) -> None:
    """Lift every lockout of the account: its failed sign-ins from all addresses are forgotten."""
    user.failed_logins = 0
    user.locked_until = None
    signins.forget_failures(user)
