"""What the audit log stores about accounts: plain values, never password hashes or API keys."""

from portal.models import AccessGroup, Client, Role, User


def user_values(user: User) -> dict:
    return {
        "email": user.email,
        "client": user.client.name,
        "roles": sorted(role.name for role in user.roles),
        "groups": sorted(group.name for group in user.groups),
        "active": user.active,
        "must_change_password": user.must_change_password,
    }


def role_values(role: Role) -> dict:
    return {"name": role.name, "permissions": sorted(role.permissions)}


def group_values(group: AccessGroup) -> dict:
    return {"name": group.name, "description": group.description}


def client_values(client: Client) -> dict:
    return {
        "name": client.name,
        "contact_email": client.contact_email,
        "password_retry_limit": client.password_retry_limit,
        "lockout_minutes": client.lockout_minutes,
        "password_regex": client.password_regex,
        "password_rule_message": client.password_rule_message,
        "password_rule_message_de": client.password_rule_message_de,
        "require_two_factor": client.require_two_factor,
        "retention_days": client.retention_days,
    }
