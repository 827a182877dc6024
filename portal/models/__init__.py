"""Typed SQLAlchemy 2 models; import them from here."""

from portal.models.accounts import AccessGroup, Client, Role, User
from portal.models.audit import AuditEntry
from portal.models.events import Delivery, Event, ProcessorLease, ScheduledTrigger, Workflow
from portal.models.maintenance import MaintenanceState
from portal.models.operations import PurgeTotals

__all__ = [
    "AccessGroup",
    "AuditEntry",
    "Client",
    "Delivery",
    "Event",
    "MaintenanceState",
    "ProcessorLease",
    "PurgeTotals",
    "Role",
    "ScheduledTrigger",
    "User",
    "Workflow",
]
