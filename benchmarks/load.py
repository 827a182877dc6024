"""Load test: requests/s and p99 of the dashboard and of ingestion against gunicorn on 127.0.0.1,
with maintenance mode off and on.

    python benchmarks/load.py [--workers 3] [--clients 8] [--seconds 6] [--rounds 2] [--batch 100]

It prepares a fresh SQLite file in a temporary folder, starts gunicorn with several workers on a
free loopback port, drives it from threads (each a signed-in session or an API client), prints a
table and, last, one JSON line. Every scenario is bounded in time and in request count, and the
server is stopped at the end whatever happens.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from tests.live import (  # noqa: E402
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    csrf_from,
    flask,
    last_line,
    prepare_db,
    running,
    sign_in,
)

MESSAGE = "Load test maintenance window."


def drive(call, clients: int, seconds: float, max_requests: int) -> dict:
    """Run ``call(worker_index)`` from ``clients`` threads until time or count runs out.

    ``call`` returns None on success, else a short description of what went wrong.
    """
    latencies: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    remaining = [max_requests]
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            start = time.perf_counter()
            try:
                problem = call(index)
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {str(exc)[-90:]}"
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors[problem] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors, "wall": time.perf_counter() - began}


def summarize(runs: list[dict]) -> dict:
    """Merge the runs of one scenario: total requests over total time, percentiles of all."""
    latencies = sorted(value for run in runs for value in run["latencies"])
    wall = sum(run["wall"] for run in runs)
    count = len(latencies)
    problems = sum((run["errors"] for run in runs), Counter())
    return {
        "requests": count,
        "errors": sum(problems.values()),
        "error_kinds": dict(problems),
        "seconds": round(wall, 2),
        "rps": round(count / wall, 1) if wall else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if count else None,
        "p99_ms": round(latencies[min(count - 1, int(count * 0.99))] * 1000, 1) if count else None,
    }


def dashboard_call(sessions: list[requests.Session], url: str):
    def call(index: int) -> str | None:
        response = sessions[index].get(url + "/", timeout=30, allow_redirects=False)
        return None if response.status_code == 200 else f"HTTP {response.status_code}"

    return call


def ingest_call(sessions: list[requests.Session], url: str, key: str, batch: int):
    counter = [0]
    lock = threading.Lock()

    def call(index: int) -> str | None:
        with lock:
            counter[0] += 1
            n = counter[0]
        events = [{"type": "load.test", "payload": {"n": n, "i": i}} for i in range(batch)]
        response = sessions[index].post(
            url + "/api/v1/events",
            json={"events": events},
            headers={"X-API-Key": key},
            timeout=30,
        )
        if response.status_code == 202:
            return None
        return f"HTTP {response.status_code}: {response.text[:120]}"

    return call


def in_process_ratio(env: dict[str, str], folder: Path, requests_per_round: int) -> dict:
    """Dashboard requests/s in-process on one thread, maintenance off vs on, alternating rounds.

    Without sockets, workers or other clients in the way this isolates what the per-request
    maintenance check itself costs.
    """
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["PORTAL_SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "load-test",
            "PROCESSOR_ENABLED": False,
        },
        instance_path=str(folder / "instance"),
    )
    client = app.test_client()
    token = csrf_from(client.get("/auth/login").get_data(as_text=True))
    client.post(
        "/auth/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    timings: dict[str, float] = {"off": 0.0, "on": 0.0}
    statements = Counter()
    enable = ["maintenance", "enable", "--bypass-role", "Administrator"]
    enable += ["--bypass-group", "Administrators"]
    with app.app_context():
        engine = db.engine

    def count(*_args) -> None:
        statements["current"] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    for _round in range(3):
        for mode in ("off", "on"):
            flask(env, *(enable if mode == "on" else ["maintenance", "disable"]))
            statements["current"] = 0
            start = time.perf_counter()
            for _ in range(requests_per_round):
                assert client.get("/").status_code == 200
            timings[mode] += time.perf_counter() - start
            statements[mode] = statements["current"] / requests_per_round
    sa.event.remove(engine, "before_cursor_execute", count)
    flask(env, "maintenance", "disable")
    total = 3 * requests_per_round
    off, on = total / timings["off"], total / timings["on"]
    return {
        "off_rps": round(off, 1),
        "on_rps": round(on, 1),
        "on_vs_off": round(on / off, 3),
        "sql_per_request_off": statements["off"],
        "sql_per_request_on": statements["on"],
    }


def run(args: argparse.Namespace) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="portal-load-"))
    env = prepare_db(folder / "portal.db")
    key = last_line(flask(env, "clients", "rotate-key", "Default"))
    enable = ["maintenance", "enable", "--message", MESSAGE, "--no-restrict-events"]
    enable += ["--bypass-role", "Administrator", "--bypass-group", "Administrators"]
    results: dict[str, dict] = {}
    # first, while the events table is empty: the dashboard's counts grow with it
    in_process = in_process_ratio(env, folder, args.in_process_requests)
    with running(LiveServer(env, folder / "gunicorn.log", workers=args.workers)) as server:
        dashboards = [sign_in(server.url, ADMIN_EMAIL) for _ in range(args.clients)]
        assert dashboards[0].get(server.url + "/", allow_redirects=False).status_code == 200
        api = [requests.Session() for _ in range(args.clients)]
        scenarios = [
            ("dashboard", dashboard_call(dashboards, server.url)),
            ("ingest", ingest_call(api, server.url, key, args.batch)),
        ]
        for name, call in scenarios:
            runs: dict[str, list] = {"off": [], "on": []}
            drive(call, args.clients, 1.0, args.max_requests)  # warm up
            # alternate off/on rounds so drift in the machine's load hits both alike
            for _round in range(args.rounds):
                for mode in ("off", "on"):
                    flask(env, *(enable if mode == "on" else ["maintenance", "disable"]))
                    seconds = args.seconds / args.rounds
                    runs[mode].append(drive(call, args.clients, seconds, args.max_requests))
            for mode, mode_runs in runs.items():
                result = summarize(mode_runs)
                if name == "ingest":
                    result["events_per_s"] = round(result["rps"] * args.batch, 1)
                results[f"{name}, maintenance {mode}"] = result
        flask(env, "maintenance", "disable")
    return {
        "in_process_dashboard": in_process,
        "workers": args.workers,
        "clients": args.clients,
        "batch": args.batch,
        "seconds_per_scenario": args.seconds,
        "rounds": args.rounds,
        "results": results,
    }


def print_table(report: dict) -> None:
    header = f"{'scenario':<28}{'requests':>9}{'errors':>7}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
    print(header + f"{'events/s':>11}")
    print("-" * (len(header) + 11))
    for name, row in report["results"].items():
        events = row.get("events_per_s", "")
        print(
            f"{name:<28}{row['requests']:>9}{row['errors']:>7}{row['rps']:>9}"
            f"{row['p50_ms']:>8}{row['p99_ms']:>8}{events:>11}"
        )
    results = report["results"]
    off, on = results["dashboard, maintenance off"], results["dashboard, maintenance on"]
    if off["rps"]:
        report["dashboard_on_vs_off"] = round(on["rps"] / off["rps"], 3)
        print(f"dashboard throughput with maintenance on / off: {report['dashboard_on_vs_off']}")
    single = report["in_process_dashboard"]
    print(
        f"in-process, one thread: dashboard {single['off_rps']} req/s off, "
        f"{single['on_rps']} on (on / off {single['on_vs_off']}); SQL statements per request "
        f"{single['sql_per_request_off']} off, {single['sql_per_request_on']} on"
    )
    for name, row in results.items():
        for kind, count in row["error_kinds"].items():
            print(f"error in {name}: {count} x {kind}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--seconds", type=float, default=6.0, help="time per scenario")
    parser.add_argument("--rounds", type=int, default=2, help="alternating off/on rounds")
    parser.add_argument("--max-requests", type=int, default=20000, help="cap per scenario")
    parser.add_argument(
        "--in-process-requests", type=int, default=300, help="per round, in-process check"
    )
    parser.add_argument("--batch", type=int, default=100, help="events per ingestion request")
    args = parser.parse_args()
    report = run(args)
    print_table(report)
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
