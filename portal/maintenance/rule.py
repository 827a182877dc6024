"""The bypass rule: who may sign in or keep using the portal while maintenance is on."""

from dataclasses import dataclass

from portal.models import AccessGroup, MaintenanceState, Role, User


@dataclass
class Selection:
    """A proposed bypass selection, not saved: ``may_bypass`` reads it like the state row."""

    bypass_roles: list[Role]
    bypass_groups: list[AccessGroup]
    enabled: bool = True


def may_bypass(user: User, state: MaintenanceState | Selection) -> bool:
    """Return whether ``user`` may use the portal: always when off; while on, only holding
    a selected bypass role AND a selected bypass group."""
    if not state.enabled:
        return True
    role_ids = {role.id for role in state.bypass_roles}
    group_ids = {group.id for group in state.bypass_groups}
    return any(role.id in role_ids for role in user.roles) and any(
        group.id in group_ids for group in user.groups
    )
