"""Webhook drain: deliveries per second against a 50 ms receiver, fairness next to a hanging
endpoint, the processor's memory while draining, and the dashboard with a large held backlog."""

import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from bench_pipeline import set_restriction, signed_in_client
from bench_setup import ROOT, env_for, free_port, make_app, prepare, wait_for_lease

from portal.accounts.permissions import ADMIN_GROUP
from portal.core.clock import utc_now
from portal.events import counters
from portal.events.ingest import parse_events, store_events
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.models import AccessGroup, Role, Workflow
from portal.models.tables import deliveries as deliveries_t
from portal.models.tables import events as events_t
from portal.models.tables import workflows as workflows_t

RECEIVER_DELAY = 0.05
TRACE = False
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@contextmanager
def receiver(delay: float = RECEIVER_DELAY):
    """Run ``receiver.py`` in its own process; yield its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "receiver.py"), str(port), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()  # hanging handlers would hold a graceful shutdown for a minute
        process.wait(timeout=10)


def _hold_events(app, client_id: int, count: int, types: list[str]) -> None:
    with app.app_context():
        for start in range(0, count, 1000):
            size = min(1000, count - start)
            rows = [{"type": types[(start + n) % len(types)]} for n in range(size)]
            store_events(client_id, parse_events({"events": rows}, 1000))


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def drain(
    folder: Path, name: str, events: int, flows: dict[str, str], watch: str, uri: str | None = None
) -> dict:
    """Hold ``events`` for the workflows ``flows`` (event type -> URL), run ``flask processor
    run``, lift the restriction and time until the ``watch`` type's deliveries all succeeded."""
    db_file = folder / f"{name}.db"
    app, _key, client_id = prepare(db_file, uri=uri)
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    set_restriction(engine, True)
    with app.app_context():
        for kind, url in flows.items():
            db.session.add(
                Workflow(
                    client_id=client_id,
                    name=f"hook {kind}",
                    event_type=kind,
                    action="webhook",
                    url=url,
                    secret=SECRET,
                )
            )
        db.session.commit()
    _hold_events(app, client_id, events, list(flows))
    expected = events // len(flows)
    env = env_for(db_file, PROCESSOR_INTERVAL_SECONDS=0.5)
    env["PORTAL_SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"]
    env["PORTAL_WEBHOOK_ALLOWED_NETWORKS"] = '["127.0.0.0/8"]'  # the receiver is local
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "processor", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    done_query = (
        sa.select(sa.func.count())
        .select_from(deliveries_t.join(events_t, deliveries_t.c.event_id == events_t.c.id))
        .where(deliveries_t.c.status == "succeeded", events_t.c.type == watch)
    )
    peak = 0
    done = 0
    try:
        wait_for_lease(engine)
        set_restriction(engine, False)
        lifted = time.perf_counter()
        deadline = lifted + 600
        while done < expected and time.perf_counter() < deadline:
            time.sleep(0.1)
            peak = max(peak, _rss_kib(worker.pid))
            with engine.connect() as connection:
                done = connection.execute(done_query).scalar()
                paused = connection.execute(
                    sa.select(workflows_t.c.pause_reason).where(
                        workflows_t.c.paused_at.is_not(None), workflows_t.c.event_type == watch
                    )
                ).scalar()
            if paused:
                raise RuntimeError(f"the measured endpoint was paused: {paused}")
            if TRACE:
                print(round(time.perf_counter() - lifted, 2), done, flush=True)
        elapsed = time.perf_counter() - lifted
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        engine.dispose()
        with app.app_context():
            db.engine.dispose()
    return {"per_s": done / elapsed, "done": done, "rss_kib": peak}


def bench_webhook_rate(folder: Path, events: int, uri: str | None = None) -> dict:
    with receiver() as base:
        return drain(folder, "webhooks", events, {"w": base + "/ok"}, "w", uri)


def bench_fairness(folder: Path, events: int, rounds: int = 2) -> tuple[float, float]:
    """Return the fast endpoint's rate alone and next to an endpoint that never answers
    (medians of interleaved rounds: the machine is shared)."""
    alone, shared = [], []
    with receiver() as base:
        for index in range(rounds):
            alone.append(
                drain(folder, f"fast-alone-{index}", events, {"fast": base + "/ok"}, "fast")
            )
            flows = {"fast": base + "/ok", "slow": base + "/hang"}
            shared.append(drain(folder, f"fast-shared-{index}", 2 * events, flows, "fast"))
    return (
        statistics.median(run["per_s"] for run in alone),
        statistics.median(run["per_s"] for run in shared),
    )


def bench_rss(folder: Path, small: int, large: int) -> tuple[int, int]:
    with receiver() as base:
        low = drain(folder, "rss-small", small, {"w": base + "/ok"}, "w")["rss_kib"]
        high = drain(folder, "rss-large", large, {"w": base + "/ok"}, "w")["rss_kib"]
    return low, high


def bench_dashboard(folder: Path, large: int, rounds: int = 20) -> tuple[float, float]:
    """Median admin dashboard time with 1,000 events and with ``large`` held events.

    Two databases, one signed-in client each, requests interleaved round by round so the
    neighbours' load falls on both sides alike.
    """
    clients = {}
    for name, count in (("small", 1000), ("large", large)):
        db_file = folder / f"dashboard-{name}.db"
        app, _key, client_id = prepare(db_file)
        _restrict_with_admin_bypass(app)
        _bulk_queued(app, client_id, count)
        clients[name] = signed_in_client(make_app(db_file))
    samples: dict[str, list[float]] = {"small": [], "large": []}
    for http in clients.values():
        for _ in range(5):
            assert http.get("/").status_code == 200
    for index in range(rounds):
        for name in ("small", "large") if index % 2 == 0 else ("large", "small"):
            for _ in range(5):
                started = time.perf_counter()
                assert clients[name].get("/").status_code == 200
                samples[name].append((time.perf_counter() - started) * 1000)
    return statistics.median(samples["small"]), statistics.median(samples["large"])


def _restrict_with_admin_bypass(app) -> None:
    """Maintenance with the restriction on (the backlog is held); the admin may bypass."""
    with app.app_context():
        state = get_or_create_state()
        state.enabled = state.restrict_event_processor = True
        state.bypass_roles = [db.session.scalar(sa.select(Role).filter_by(name="Administrator"))]
        state.bypass_groups = [
            db.session.scalar(sa.select(AccessGroup).filter_by(name=ADMIN_GROUP))
        ]
        db.session.commit()


def _bulk_queued(app, client_id: int, count: int) -> None:
    """Insert queued events fast (raw executemany), keeping the counters exact."""
    with app.app_context():
        connection = db.session.connection()
        received = utc_now().isoformat(sep=" ")  # how SQLite stores DateTime
        sql = (
            "INSERT INTO events (client_id, type, payload, received_at, status, attempts) "
            "VALUES (?, 't', '{}', ?, 'queued', 0)"
        )
        raw = connection.connection.driver_connection
        for start in range(0, count, 100_000):
            size = min(100_000, count - start)
            raw.executemany(sql, ((client_id, received) for _ in range(size)))
        counters.add(connection, {(client_id, "queued"): count})
        db.session.commit()
