"""Domain rules for users, roles and groups, shared by the CLI and the web forms.

Clients, their policy and API keys live in ``portal.clients``; passwords and the lockout in
``portal.accounts.passwords``. Functions add to the session and flush; the caller commits its
unit of work.
"""

import re
from collections.abc import Iterable

import sqlalchemy as sa

from portal.accounts import names
from portal.accounts.passwords import account_words, hash_password, password_problem, unlock
from portal.accounts.permissions import CATALOGUE
from portal.accounts.tokens import revoke_all as revoke_tokens
from portal.extensions import db
from portal.models import AccessGroup, Client, Role, User
from portal.security import sessions

DEFAULT_CLIENT = "Default"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """Bad input for an account operation; the message is shown to the user as is.

    ``field`` names the form field the message belongs next to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalize_email(email: str) -> str:
    """Return ``email`` as stored: trimmed and lower case."""
    return (email or "").strip().lower()


def find_client(name: str) -> Client | None:
    """Return the client named ``name``, or None."""
    return db.session.scalar(sa.select(Client).where(Client.name == name))


def default_client() -> Client | None:
    """Return the client ``flask setup`` made first (found by its marker, whatever its name)."""
    return db.session.scalar(sa.select(Client).where(Client.is_default.is_(True)))


def find_user(email: str) -> User | None:
    """Return the user with this email address (any case), or None."""
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


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


def clean_name(name: str, label: str, model, exclude_id: int | None = None) -> str:
    """Return ``name`` trimmed, raising AccountError when it is empty, too long or taken
    (names are unique without regard to case; see ``portal.accounts.names``)."""
    name = (name or "").strip()
    if not name:
        raise AccountError(f"{label} needs a name.", "name")
    problem = names.length_problem(model, name)
    if problem:
        raise AccountError(problem, "name")
    existing = names.taken_by(model, name, exclude_id=exclude_id)
    if existing is not None:
        raise AccountError(names.duplicate_message(label, name, existing), "name")
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
    must_change_password: bool = False,
    lang: str = "en",
) -> User:
    """Create a user after checking email, uniqueness, roles, groups and the password policy."""
    email = _check_email(email)
    _check_memberships(roles, groups)
    _check_password(client, password, email, lang)
    user = User(
        email=email,
        password_hash=hash_password(password),
        client=client,
        roles=list(roles),
        groups=list(groups),
        active=active,
        must_change_password=must_change_password,
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
    must_change_password: bool | None = None,
) -> None:
    """Change a user's details with the same checks as creating one (the password stays;
    ``must_change_password`` None keeps the flag)."""
    user.email = _check_email(email, exclude_id=user.id)
    _check_memberships(roles, groups)
    user.client = client
    user.roles = list(roles)
    user.groups = list(groups)
    if user.active and not active:
        sessions.end_all(user)  # a deactivated user is signed out everywhere
        revoke_tokens(user)  # and their tokens die with the account
    user.active = active
    if must_change_password is not None:
        user.must_change_password = must_change_password


def set_password(
    user: User, password: str, lang: str = "en", *, must_change_password: bool = False
) -> None:
    """Set a new password after checking the user's client policy and its strength; also
    unlocks the account. ``must_change_password``: the user must choose another at sign-in
    (an admin's reset); the user's own new password clears it."""
    _check_password(user.client, password, user.email, lang)
    user.password_hash = hash_password(password)
    user.must_change_password = must_change_password
    unlock(user)
    sessions.end_all(user)  # the sessions and remember-me cookies of the old password end


def _check_password(client: Client, password: str, email: str, lang: str) -> None:
    problem = password_problem(client, password, lang, account_words(email))
    if problem:
        raise AccountError(problem, "password")


def create_role(name: str, permissions: Iterable[str]) -> Role:
    """Create a role with permission codes from the catalogue."""
    role = Role(name=clean_name(name, "A role", Role), permissions=_check_codes(permissions))
    db.session.add(role)
    db.session.flush()
    return role


def update_role(role: Role, name: str, permissions: Iterable[str]) -> None:
    """Rename a role and replace its permissions."""
    role.name = clean_name(name, "A role", Role, exclude_id=role.id)
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
    group = AccessGroup(name=clean_name(name, "An access group", AccessGroup))
    group.description = (description or "").strip()
    db.session.add(group)
    db.session.flush()
    return group


def update_group(group: AccessGroup, name: str, description: str) -> None:
    """Rename an access group and change its description."""
    group.name = clean_name(name, "An access group", AccessGroup, exclude_id=group.id)
    group.description = (description or "").strip()
