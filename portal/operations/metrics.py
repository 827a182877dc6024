"""``GET /metrics``: Prometheus text format, every figure read from the database at scrape time.

Reading the database (instead of counting in process memory) keeps the figures right however
many gunicorn workers serve the scrape and whichever process holds the processor lease. The
counters come from :mod:`portal.operations.totals` (counted when each event and delivery
finished), so a scrape costs the same at any table size and the counters survive retention.
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

from portal.core.clock import utc_now
from portal.events.counters import client_counts
from portal.events.lease import live_lease
from portal.extensions import db
from portal.maintenance import FLAGS, restriction_holds
from portal.models import Client
from portal.models.events import DELIVERY_FAILED, DELIVERY_SUCCEEDED, EVENT_FAILED, EVENT_PROCESSED
from portal.operations.totals import LATENCY_BUCKETS, Figures, client_figures

bp = Blueprint("operations", __name__)


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
        now = utc_now()
        flags = db.session.execute(FLAGS).first()
        enabled = bool(flags and flags.enabled)
        restricted = restriction_holds(flags, now)
        names = dict(db.session.execute(sa.select(Client.id, Client.name)).all())
        counts = client_counts(list(names), restricted, now)
        finished = client_figures(list(names))
        yield from _backlog(names, counts)
        yield from _finished(names, finished)
        yield from _purges(names, finished)
        yield _gauge("gateway_maintenance_enabled", "1 while maintenance mode is on.", enabled)
        yield _gauge(
            "gateway_event_processor_restricted",
            "1 while maintenance holds the event processor (events are held).",
            restricted,
        )
        holder = GaugeMetricFamily(
            "gateway_event_processor_lease",
            'Who holds a live processor lease (value 1); holder="" with 0 when nobody does.',
            labels=["holder"],
        )
        current = live_lease()
        holder.add_metric([current.holder if current else ""], 1 if current else 0)
        yield holder
        yield _gauge(
            "gateway_webhook_restriction_readable",
            "0 while the lease holder's webhook pump cannot read the restriction from the "
            "database (it holds every webhook call meanwhile); 1 otherwise.",
            not (current and current.restriction_unreadable_since),
        )


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


def _finished(names: dict[int, str], finished: dict):
    processed = CounterMetricFamily(
        "gateway_events_processed",
        "Events the processor finished, by outcome (processed or failed); purged ones included.",
        labels=["client", "outcome"],
    )
    delivered = CounterMetricFamily(
        "gateway_deliveries",
        "Workflow action runs (deliveries) finished, by status; purged ones included.",
        labels=["client", "status"],
    )
    latency = Figures()
    for client_id, name in names.items():
        figures, _row = finished[client_id]
        for outcome in (EVENT_PROCESSED, EVENT_FAILED):
            processed.add_metric([name, outcome], figures.events.get(outcome, 0))
        for status in (DELIVERY_SUCCEEDED, DELIVERY_FAILED):
            delivered.add_metric([name, status], figures.deliveries.get(status, 0))
        latency.add(figures)
    cumulative, running = [], 0
    for number in latency.latency[: len(LATENCY_BUCKETS)]:
        running += number
        cumulative.append(running)
    buckets = [(str(bound), n) for bound, n in zip(LATENCY_BUCKETS, cumulative, strict=True)]
    buckets.append(("+Inf", sum(latency.latency)))
    yield processed
    yield delivered
    yield HistogramMetricFamily(
        "gateway_delivery_latency_seconds",
        "Seconds from a delivery being created to it finishing (retries included).",
        buckets=buckets,
        sum_value=latency.latency_sum,
    )


def _purges(names: dict[int, str], finished: dict):
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
        _figures, row = finished[client_id]
        purged_events.add_metric([name], row.purged_events if row else 0)
        purged_deliveries.add_metric([name], row.purged_deliveries if row else 0)
        stamp = row.last_purged_at if row else None
        last.add_metric([name], _unix(stamp) if stamp else 0)
    yield from (purged_events, purged_deliveries, last)


def _unix(stamp: datetime) -> float:
    return stamp.replace(tzinfo=UTC).timestamp()
