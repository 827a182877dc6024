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
from portal.models.mail import MailAttempt, OutboxMessage, PasswordReset
from portal.models.maintenance import MaintenanceState, MaintenanceWindow, RestrictionPeriod
from portal.models.operations import ClientTotals, HistorySample
from portal.models.security import RecoveryCode, SignInFailure, TwoFactor, UserSession
from portal.models.tokens import PersonalAccessToken

__all__ = [
    "AccessGroup",
    "AuditEntry",
    "BulkJob",
    "ClientTotals",
    "Client",
    "Delivery",
    "DeliveryAttempt",
    "EventCounter",
    "HistorySample",
    "Event",
    "MailAttempt",
    "MaintenanceState",
    "MaintenanceWindow",
    "OutboxMessage",
    "PasswordReset",
    "PersonalAccessToken",
    "ProcessorLease",
    "RecoveryCode",
    "RestrictionPeriod",
    "Role",
    "ScheduledTrigger",
    "SignInFailure",
    "TwoFactor",
    "User",
    "UserSession",
    "Workflow",
]
