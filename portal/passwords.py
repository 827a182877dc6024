"""Passwords: hashing, each client's password policy, and lifting a lockout."""

import re

from werkzeug.security import check_password_hash, generate_password_hash

from portal.models import Client, User
from portal.security import signins

MIN_PASSWORD_LENGTH = 8
DEFAULT_RULE_MESSAGE = f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."


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


def password_problem(client: Client, password: str, lang: str = "en") -> str | None:
    """Return the client's rule message if ``password`` breaks its policy, else None."""
    password = password or ""
    if client.password_regex:
        try:
            ok = re.fullmatch(client.password_regex, password) is not None
        except re.error:
            ok = len(password) >= MIN_PASSWORD_LENGTH
    else:
        ok = len(password) >= MIN_PASSWORD_LENGTH
    return None if ok else rule_message(client, lang)


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
