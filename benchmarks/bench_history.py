"""History samples: what one sample costs beside a processor round, and the window page with
a 24-hour window of samples against the dashboard in the same run."""

import statistics
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from bench_pipeline import signed_in_client
from bench_setup import make_app, prepare

from portal import clients
from portal.core.clock import utc_now
from portal.events import processor
from portal.events.ingest import store_events
from portal.extensions import db
from portal.models import MaintenanceWindow, RestrictionPeriod, Workflow
from portal.operations import history

CLIENTS = 20


def bench_history_overhead(folder: Path, rounds: int = 15) -> dict:
    """Median time of one sample (20 clients) and of one busy processor round (a full batch
    through a ``record`` workflow). The overhead shares a sample's cost among the rounds of
    its ``HISTORY_SAMPLE_SECONDS`` (ten at the default 1 s interval); the cost of one sample
    against one round is given too."""
    app, _key, client_id = prepare(folder / "history.db")
    size = int(app.config["PROCESSOR_BATCH_SIZE"])
    with app.app_context():
        for index in range(CLIENTS - 1):
            clients.create_client(f"bench-{index}")
        db.session.add(Workflow(client_id=client_id, name="record all", event_type="*"))
        db.session.commit()
        rows = [("sensor.reading", '{"t": 1}', None)] * size
        round_ms, sample_ms = [], []
        for _ in range(rounds):
            store_events(client_id, rows)
            started = time.perf_counter()
            assert processor.tick("benchmark").started == size
            round_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            history.record({client_id: 3}, 10)
            sample_ms.append((time.perf_counter() - started) * 1000)
        processor.lease.release("benchmark")
    one_round, one_sample = statistics.median(round_ms), statistics.median(sample_ms)
    # one sample per HISTORY_SAMPLE_SECONDS: that many seconds of rounds share its cost
    period = max(float(app.config["PROCESSOR_INTERVAL_SECONDS"]), one_round / 1000)
    rounds_per_sample = max(float(app.config["HISTORY_SAMPLE_SECONDS"]) / period, 1.0)
    return {
        "history_sample_ms": round(one_sample, 3),
        "processor_round_ms": round(one_round, 2),
        "history_sample_overhead_pct": round(100 * one_sample / one_round / rounds_per_sample, 3),
        "history_sample_vs_one_round_pct": round(100 * one_sample / one_round, 3),
    }


def bench_window_page(folder: Path, requests: int = 40) -> dict:
    """Median time of a 24-hour window's page (a sample every 10 s, total and one client)
    and of the dashboard, the same admin, requests interleaved."""
    db_file = folder / "window-page.db"
    app, _key, client_id = prepare(db_file)
    now = utc_now().replace(microsecond=0)
    start, end = now - timedelta(hours=25), now - timedelta(hours=1)
    with app.app_context():
        window = MaintenanceWindow(started_at=start, started_by="cli", started_via="cli")
        window.ended_at, window.ended_by, window.ended_via = end, "cli", "cli"
        window.refused_signins, window.client_refused_signins = 0, {}
        lifted = end - timedelta(minutes=30)
        window.periods.append(
            RestrictionPeriod(
                started_at=start,
                ended_at=lifted,
                events_received=0,
                peak_backlog=0,
                drained_at=end,
                failed_in_drain=0,
                client_figures={},
            )
        )
        db.session.add(window)
        db.session.commit()
        samples = []
        for n in range(24 * 360 + 360):
            at = start + timedelta(seconds=10 * n)
            for client in (client_id, None):
                samples.append(
                    {"taken_at": at, "client_id": client, "step": 10, "queued": n % 5000}
                    | {"in_flight": n % 40, "delivered": 7 * n, "failed": n // 50}
                    | {"restricted": at < lifted}
                )
        db.session.execute(sa.insert(history.samples), samples)
        db.session.commit()
        window_id = window.id
    http = signed_in_client(make_app(db_file))
    urls = {"window": f"/settings/maintenance/windows/{window_id}", "dashboard": "/"}
    for url in urls.values():
        for _ in range(3):
            assert http.get(url).status_code == 200
    timings: dict[str, list[float]] = {name: [] for name in urls}
    for index in range(requests):
        for name in urls if index % 2 == 0 else reversed(list(urls)):
            started = time.perf_counter()
            assert http.get(urls[name]).status_code == 200
            timings[name].append((time.perf_counter() - started) * 1000)
    page, dashboard = (statistics.median(timings[name]) for name in urls)
    return {
        "window_page_ms": round(page, 2),
        "window_page_dashboard_ms": round(dashboard, 2),
        "window_page_vs_dashboard": round(page / dashboard, 3),
        "window_page_samples": len(samples),
    }


if __name__ == "__main__":  # only these two: python benchmarks/bench_history.py
    import json
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="portal-bench-history-"))
    print(json.dumps(bench_history_overhead(where) | bench_window_page(where)))
