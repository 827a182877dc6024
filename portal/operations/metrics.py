"""``GET /metrics``: Prometheus text format, every figure read from the database at scrape time.

Reading the database (instead of counting in process memory) keeps the figures right however
many gunicorn workers serve the scrape and whichever process holds the processor lease.
Counters stay monotonic across retention: what was purged is added back from the purge totals.
"""

import hmac
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal.clock import utc_now
from portal.dashboard.stats import client_counts
from portal.events.lease import live_holder
from portal.events.tables import deliveries, events
from portal.extensions import db
from portal.maintenance import FLAGS
from portal.models import Client
from portal.models.events import DELIVERY_FAILED, DELIVERY_SUCCEEDED, EVENT_FAILED, EVENT_PROCESSED
from portal.operations.retention import LATENCY_BUCKETS, purged_by_client

bp = Blueprint("operations", __name__)
PURGED_EVENTS = {EVENT_PROCESSED: "events_processed", EVENT_FAILED: "events_failed"}


@bp.route("/metrics")
def metrics():
    """Serve the figures to a scraper holding the configured bearer token."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    body = generate_latest(registry)
    db.session.commit()  # end the read transaction at once
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class DatabaseCollector:
    """Collect the gateway's figures from the database (one call per scrape)."""

    def collect(self):
        flags = db.session.execute(FLAGS).first()
        enabled = bool(flags and flags.enabled)
        restricted = enabled and bool(flags.restrict_event_processor)
        names = dict(db.session.execute(sa.select(Client.id, Client.name)).all())
        counts = client_counts(list(names), restricted, utc_now())
        purged = purged_by_client()
        yield from _backlog(names, counts)
        yield _processed(names, purged)
        yield _deliveries(purged)
        yield _latency(purged)
        yield from _purges(names, purged)
        yield _gauge("gateway_maintenance_enabled", "1 while maintenance mode is on.", enabled)
        yield _gauge(
            "gateway_event_processor_restricted",
            "1 while maintenance holds the event processor (events are held).",
            restricted,
        )
        holder = GaugeMetricFamily(
            "gateway_event_processor_lease",
            '1 for the processor that holds a live lease (holder="" and 0: none does).',
            labels=["holder"],
        )
        current = live_holder()
        holder.add_metric([current or ""], 1 if current else 0)
        yield holder


def _gauge(name: str, documentation: str, value: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=1 if value else 0)


def _backlog(names: dict[int, str], counts: dict[int, dict[str, int]]):
    families = {
        "queued": GaugeMetricFamily(
            "gateway_events_queued", "Events waiting to be processed.", labels=["client"]
        ),
        "held": GaugeMetricFamily(
            "gateway_events_held",
            "Queued events held by the maintenance restriction.",
            labels=["client"],
        ),
        "failed": GaugeMetricFamily(
            "gateway_events_failed", "Failed events still kept.", labels=["client"]
        ),
    }
    for client_id, name in names.items():
        for key, family in families.items():
            family.add_metric([name], counts[client_id][key])
    yield from families.values()


def _processed(names: dict[int, str], purged: dict) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "gateway_events_processed",
        "Events the processor finished, by outcome (processed or failed), purged ones included.",
        labels=["client", "outcome"],
    )
    stored = db.session.execute(
        sa.select(events.c.client_id, events.c.status, sa.func.count())
        .where(events.c.status.in_([EVENT_PROCESSED, EVENT_FAILED]))
        .group_by(events.c.client_id, events.c.status)
    ).all()
    totals = {(client_id, status): number for client_id, status, number in stored}
    for client_id, name in names.items():
        gone = purged.get(client_id)
        for status, column in PURGED_EVENTS.items():
            value = totals.get((client_id, status), 0) + (getattr(gone, column) if gone else 0)
            family.add_metric([name, status], value)
    return family


def _deliveries(purged: dict) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "gateway_deliveries",
        "Workflow action runs that finished, by status, purged ones included.",
        labels=["status"],
    )
    stored = dict(
        db.session.execute(
            sa.select(deliveries.c.status, sa.func.count())
            .where(deliveries.c.status.in_([DELIVERY_SUCCEEDED, DELIVERY_FAILED]))
            .group_by(deliveries.c.status)
        ).all()
    )
    succeeded = sum(row.deliveries_succeeded for row in purged.values())
    failed = sum(row.deliveries_failed for row in purged.values())
    family.add_metric([DELIVERY_SUCCEEDED], stored.get(DELIVERY_SUCCEEDED, 0) + succeeded)
    family.add_metric([DELIVERY_FAILED], stored.get(DELIVERY_FAILED, 0) + failed)
    return family


class seconds_between(FunctionElement):  # noqa: N801  (reads like the SQL function it is)
    """``end - start`` in seconds, for the dialects the portal supports."""

    type = sa.Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between)
def _seconds_default(element, compiler, **kw) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def _latency(purged: dict) -> HistogramMetricFamily:
    """Seconds from a delivery being created to it finishing (retries included)."""
    seconds = seconds_between(deliveries.c.created_at, deliveries.c.finished_at)
    columns = [sa.func.sum(sa.case((seconds <= bound, 1), else_=0)) for bound in LATENCY_BUCKETS]
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(seconds), *columns).where(
            deliveries.c.finished_at.is_not(None)
        )
    ).one()
    count, total = int(row[0] or 0), float(row[1] or 0.0)
    cumulative = [int(value or 0) for value in row[2:]]
    for gone in purged.values():
        if not gone.latency:
            continue
        running = 0
        for index, number in enumerate(gone.latency["counts"][: len(LATENCY_BUCKETS)]):
            running += number
            cumulative[index] += running
        count += sum(gone.latency["counts"])
        total += float(gone.latency["sum"])
    buckets = [(str(bound), n) for bound, n in zip(LATENCY_BUCKETS, cumulative, strict=True)]
    buckets.append(("+Inf", count))
    return HistogramMetricFamily(
        "gateway_delivery_latency_seconds",
        "Seconds from a delivery being created to it finishing.",
        buckets=buckets,
        sum_value=total,
    )


def _purges(names: dict[int, str], purged: dict):
    purged_events = CounterMetricFamily(
        "gateway_retention_purged_events",
        "Processed and failed events deleted by retention.",
        labels=["client"],
    )
    purged_deliveries = CounterMetricFamily(
        "gateway_retention_purged_deliveries",
        "Deliveries deleted by retention with their events.",
        labels=["client"],
    )
    last = GaugeMetricFamily(
        "gateway_retention_last_purge_timestamp_seconds",
        "When retention last deleted rows of the client (Unix time; 0: never).",
        labels=["client"],
    )
    for client_id, name in names.items():
        gone = purged.get(client_id)
        purged_events.add_metric([name], gone.events_processed + gone.events_failed if gone else 0)
        purged_deliveries.add_metric(
            [name], gone.deliveries_succeeded + gone.deliveries_failed if gone else 0
        )
        stamp = gone.last_purged_at if gone else None
        last.add_metric([name], _unix(stamp) if stamp else 0)
    yield from (purged_events, purged_deliveries, last)


def _unix(stamp: datetime) -> float:
    return stamp.replace(tzinfo=UTC).timestamp()
