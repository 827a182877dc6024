"""Domain rules for clients, users, roles and groups, shared by the CLI and the web forms.

Functions add to the session and flush; the caller commits its unit of work.
"""

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from portal.extensions import db
from portal.models import AccessGroup, Client, Role, User
from portal.permissions import CATALOGUE

DEFAULT_CLIENT = "Default"
MIN_PASSWORD_LENGTH = 8
DEFAULT_RULE_MESSAGE = f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """Bad input for an account operation; the message is shown to the user as is."""


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password or "")


def password_problem(client: Client, password: str) -> str | None:
    """Return the client's rule message if ``password`` breaks its policy, else None."""
    password = password or ""
    if client.password_regex:
        try:
            ok = re.fullmatch(client.password_regex, password) is not None
        except re.error:
            ok = len(password) >= MIN_PASSWORD_LENGTH
        if not ok:
            return client.password_rule_message or "The password does not meet the policy."
        return None
    if len(password) < MIN_PASSWORD_LENGTH:
        return client.password_rule_message or DEFAULT_RULE_MESSAGE
    return None


def regex_problem(pattern: str) -> str | None:
    """Return why ``pattern`` is not a valid regular expression, else None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"Not a valid regular expression: {exc}"
    return None


def find_client(name: str) -> Client | None:
    return db.session.scalar(sa.select(Client).where(Client.name == name))


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def find_roles(names: Iterable[str]) -> list[Role]:
    """Return the roles named, raising AccountError for any unknown name."""
    return _find_named(Role, names, "role")


def find_groups(names: Iterable[str]) -> list[AccessGroup]:
    """Return the access groups named, raising AccountError for any unknown name."""
    return _find_named(AccessGroup, names, "access group")


def _find_named(model, names: Iterable[str], label: str) -> list:
    wanted = list(dict.fromkeys(names))
    found = {row.name: row for row in db.session.scalars(sa.select(model).where(model.name.in_(wanted)))}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise AccountError(f"Unknown {label}: {', '.join(missing)}")
    return [found[name] for name in wanted]


def create_user(
    email: str,
    password: str,
    client: Client,
    roles: list[Role],
    groups: list[AccessGroup],
    *,
    active: bool = True,
) -> User:
    """Create a user after checking email, uniqueness, roles, groups and the password policy."""
    email = normalize_email(email)
    if not EMAIL_RE.match(email):
        raise AccountError(f"Not a valid email address: {email or '(empty)'}")
    if find_user(email) is not None:
        raise AccountError(f"A user with email {email} already exists.")
    if not roles:
        raise AccountError("A user needs at least one role.")
    if not groups:
        raise AccountError("A user needs at least one access group.")
    problem = password_problem(client, password)
    if problem:
        raise AccountError(problem)
    user = User(
        email=email,
        password_hash=hash_password(password),
        client=client,
        roles=list(roles),
        groups=list(groups),
        active=active,
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password after checking the user's client policy; also unlocks the account."""
    problem = password_problem(user.client, password)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None


def create_role(name: str, permissions: Iterable[str]) -> Role:
    """Create a role with permission codes from the catalogue."""
    name = (name or "").strip()
    if not name:
        raise AccountError("A role needs a name.")
    codes = list(dict.fromkeys(permissions))
    unknown = [code for code in codes if code not in CATALOGUE]
    if unknown:
        raise AccountError(
            f"Unknown permission: {', '.join(unknown)} (known: {', '.join(CATALOGUE)})"
        )
    role = Role(name=name, permissions=codes)
    db.session.add(role)
    db.session.flush()
    return role


def create_group(name: str, description: str = "") -> AccessGroup:
    name = (name or "").strip()
    if not name:
        raise AccountError("An access group needs a name.")
    group = AccessGroup(name=name, description=description)
    db.session.add(group)
    db.session.flush()
    return group


def create_client(name: str, contact_email: str = "") -> tuple[Client, str]:
    """Create a client and return it with its new API key (shown once, stored hashed)."""
    name = (name or "").strip()
    if not name:
        raise AccountError("A client needs a name.")
    if find_client(name) is not None:
        raise AccountError(f"A client named {name} already exists.")
    client = Client(name=name, contact_email=contact_email)
    db.session.add(client)
    key = rotate_api_key(client)
    db.session.flush()
    return client, key


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


def register_failed_login(user: User, now: datetime) -> None:
    """Count a wrong password; lock the account once the client's retry limit is reached."""
    user.failed_logins += 1
    if user.failed_logins >= user.client.password_retry_limit:
        user.locked_until = now + timedelta(minutes=user.client.lockout_minutes)
        user.failed_logins = 0


def register_successful_login(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None


def check_password_hash_only(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password or "")
