"""Typed SQLAlchemy 2 models; import them from here."""

from portal.models.accounts import AccessGroup, Client, Role, User
from portal.models.audit import AuditEntry
from portal.models.events import (
    BulkJob,
    Delivery,
    DeliveryAttempt,
    Event,
    EventCounter,
    ProcessorLease,
    ScheduledTrigger,
    Workflow,
)
from portal.models.maintenance import MaintenanceState, MaintenanceWindow, RestrictionPeriod
from portal.models.operations import ClientTotals
from portal.models.security import SignInFailure, UserSession

__all__ = [
    "AccessGroup",
    "AuditEntry",
    "BulkJob",
    "ClientTotals",
    "Client",
    "Delivery",
    "DeliveryAttempt",
    "EventCounter",
    "Event",
    "MaintenanceState",
    "MaintenanceWindow",
    "ProcessorLease",
    "RestrictionPeriod",
    "Role",
    "ScheduledTrigger",
    "SignInFailure",
    "User",
    "UserSession",
    "Workflow",
]
