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
    """Bad input for an account operation; the message is shown to the user as is.

    ``field`` names the form field the message belongs next to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password or "")


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


def find_client(name: str) -> Client | None:
    return db.session.scalar(sa.select(Client).where(Client.name == name))


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def name_taken(model, name: str, exclude_id: int | None = None) -> bool:
    """Return whether another row of ``model`` (a Role, AccessGroup or Client) has ``name``."""
    query = sa.select(model.id).where(model.name == name)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query) is not None


def _check_email(email: str, exclude_id: int | None = None) -> str:
    email = normalize_email(email)
    if not EMAIL_RE.match(email):
        raise AccountError(f"Not a valid email address: {email or '(empty)'}", "email")
    query = sa.select(User.id).where(User.email == email)
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise AccountError(f"A user with email {email} already exists.", "email")
    return email


def _check_memberships(roles: list[Role], groups: list[AccessGroup]) -> None:
    if not roles:
        raise AccountError("A user needs at least one role.", "roles")
    if not groups:
        raise AccountError("A user needs at least one access group.", "groups")


def _clean_name(name: str, label: str, model, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise AccountError(f"{label} needs a name.", "name")
    if name_taken(model, name, exclude_id):
        raise AccountError(f"{label} named {name} already exists.", "name")
    return name


def find_roles(names: Iterable[str]) -> list[Role]:
    """Return the roles named, raising AccountError for any unknown name."""
    return _find_named(Role, names, "role")


def find_groups(names: Iterable[str]) -> list[AccessGroup]:
    """Return the access groups named, raising AccountError for any unknown name."""
    return _find_named(AccessGroup, names, "access group")


def _find_named(model, names: Iterable[str], label: str) -> list:
    wanted = list(dict.fromkeys(names))
    found = {
        row.name: row for row in db.session.scalars(sa.select(model).where(model.name.in_(wanted)))
    }
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
    lang: str = "en",
) -> User:
    """Create a user after checking email, uniqueness, roles, groups and the password policy."""
    email = _check_email(email)
    _check_memberships(roles, groups)
    problem = password_problem(client, password, lang)
    if problem:
        raise AccountError(problem, "password")
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


def update_user(
    user: User,
    email: str,
    client: Client,
    roles: list[Role],
    groups: list[AccessGroup],
    *,
    active: bool,
) -> None:
    """Change a user's details with the same checks as creating one (the password stays)."""
    user.email = _check_email(email, exclude_id=user.id)
    _check_memberships(roles, groups)
    user.client = client
    user.roles = list(roles)
    user.groups = list(groups)
    user.active = active


def set_password(user: User, password: str, lang: str = "en") -> None:
    """Set a new password after checking the user's client policy; also unlocks the account."""
    problem = password_problem(user.client, password, lang)
    if problem:
        raise AccountError(problem, "password")
    user.password_hash = hash_password(password)
    unlock(user)


def unlock(user: User) -> None:
    """Lift a lockout: clear the lock and the failed sign-in counter."""
    user.failed_logins = 0
    user.locked_until = None


def create_role(name: str, permissions: Iterable[str]) -> Role:
    """Create a role with permission codes from the catalogue."""
    role = Role(name=_clean_name(name, "A role", Role), permissions=_check_codes(permissions))
    db.session.add(role)
    db.session.flush()
    return role


def update_role(role: Role, name: str, permissions: Iterable[str]) -> None:
    """Rename a role and replace its permissions."""
    role.name = _clean_name(name, "A role", Role, exclude_id=role.id)
    role.permissions = _check_codes(permissions)


def delete_role(role: Role) -> None:
    """Delete a role (its user and bypass associations go with it) unless a user needs it."""
    _check_not_last("role", role.name, [user for user in role.users if len(user.roles) == 1])
    db.session.delete(role)


def delete_group(group: AccessGroup) -> None:
    """Delete an access group (its associations go with it) unless a user needs it."""
    stranded = [user for user in group.users if len(user.groups) == 1]
    _check_not_last("access group", group.name, stranded)
    db.session.delete(group)


def _check_not_last(label: str, name: str, stranded: list[User]) -> None:
    # Every user keeps at least one role and one group, as when creating them.
    if stranded:
        emails = ", ".join(sorted(user.email for user in stranded)[:5])
        more = "" if len(stranded) <= 5 else f" and {len(stranded) - 5} more"
        raise AccountError(
            f"The {label} {name} is the only {label} of {emails}{more}; "
            f"give them another {label} first."
        )


def _check_codes(permissions: Iterable[str]) -> list[str]:
    codes = list(dict.fromkeys(permissions))
    unknown = [code for code in codes if code not in CATALOGUE]
    if unknown:
        raise AccountError(
            f"Unknown permission: {', '.join(unknown)} (known: {', '.join(CATALOGUE)})",
            "permissions",
        )
    return codes


def create_group(name: str, description: str = "") -> AccessGroup:
    """Create an access group with a unique name."""
    group = AccessGroup(name=_clean_name(name, "An access group", AccessGroup))
    group.description = (description or "").strip()
    db.session.add(group)
    db.session.flush()
    return group


def update_group(group: AccessGroup, name: str, description: str) -> None:
    """Rename an access group and change its description."""
    group.name = _clean_name(name, "An access group", AccessGroup, exclude_id=group.id)
    group.description = (description or "").strip()


def create_client(name: str, contact_email: str = "") -> tuple[Client, str]:
    """Create a client and return it with its new API key (shown once, stored hashed)."""
    name = _clean_name(name, "A client", Client)
    client = Client(name=name, contact_email=(contact_email or "").strip())
    db.session.add(client)
    key = rotate_api_key(client)
    db.session.flush()
    return client, key


def update_client(client: Client, name: str, contact_email: str, **policy) -> None:
    """Change a client's name, contact and security policy (``policy`` as in POLICY_FIELDS)."""
    client.name = _clean_name(name, "A client", Client, exclude_id=client.id)
    client.contact_email = (contact_email or "").strip()
    set_policy(client, **policy)


POLICY_FIELDS = (
    "password_retry_limit",
    "lockout_minutes",
    "password_regex",
    "password_rule_message",
    "password_rule_message_de",
)


def set_policy(
    client: Client,
    *,
    password_retry_limit: int,
    lockout_minutes: int,
    password_regex: str = "",
    password_rule_message: str = "",
    password_rule_message_de: str = "",
) -> None:
    """Set a client's security policy after checking the limits and the regex."""
    if password_retry_limit is None or password_retry_limit < 1:
        raise AccountError("The retry limit must be at least 1.", "password_retry_limit")
    if lockout_minutes is None or lockout_minutes < 1:
        raise AccountError("The lockout must last at least 1 minute.", "lockout_minutes")
    password_regex = (password_regex or "").strip()
    problem = regex_problem(password_regex) if password_regex else None
    if problem:
        raise AccountError(problem, "password_regex")
    client.password_retry_limit = password_retry_limit
    client.lockout_minutes = lockout_minutes
    client.password_regex = password_regex
    client.password_rule_message = (password_rule_message or "").strip()
    client.password_rule_message_de = (password_rule_message_de or "").strip()


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
