"""Core table handles for the bulk paths (one statement per batch, not an ORM object per row)."""

from portal.models import (
    BulkJob,
    Delivery,
    DeliveryAttempt,
    Event,
    EventCounter,
    MaintenanceState,
    ProcessorLease,
    Workflow,
)

events = Event.__table__
deliveries = Delivery.__table__
workflows = Workflow.__table__
lease = ProcessorLease.__table__
maintenance = MaintenanceState.__table__
attempts = DeliveryAttempt.__table__
counters = EventCounter.__table__
jobs = BulkJob.__table__
