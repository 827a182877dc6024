"""A dated results file per benchmark run, read by the documentation's Performance page.

Each file holds the command, the machine (cores, load average before and after), the commit,
and every key of the run's last line with what it measures and its bar, so a run can be read
years later without this module. The bars are those of SPEC §7 and of the issues that added
the keys; a key without a bar is a reference figure.
"""

import json
import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "performance" / "results"

# key: (what it measures, bar as (operator, limit) or None, where the bar comes from)
FIGURES: dict[str, tuple[str, tuple[str, float] | None, str]] = {
    "ingest_events_per_s": (
        "durable batch ingestion over HTTP, events/s (median of interleaved rounds)",
        (">=", 50_000),
        "SPEC §7",
    ),
    "ingest_best_round_events_per_s": ("the best ingestion round, events/s", None, ""),
    "persist_queue_events_per_s": (
        "persist-queue SQLiteAckQueue put loop, events/s (the baseline)",
        None,
        "",
    ),
    "raw_sqlite_events_per_s": ("raw sqlite3 executemany of the same rows, events/s", None, ""),
    "ingest_vs_persist_queue": ("ingestion ÷ the persist-queue baseline", (">=", 8), "SPEC §7"),
    "ingest_vs_raw_sqlite": ("ingestion ÷ raw sqlite3", None, ""),
    "process_events_per_s": (
        "processing with a record workflow, events/s",
        (">=", 20_000),
        "SPEC §7",
    ),
    "enforcement_overhead_pct": (
        "maintenance enforcement on a signed-in page, % of thread CPU time",
        ("<=", 3),
        "SPEC §7",
    ),
    "signin_2fa_ratio": (
        "a sign-in with a second factor ÷ one with a password only",
        ("<=", 1.3),
        "issue 20",
    ),
    "signin_ms": ("a sign-in with a password, ms (median)", None, ""),
    "signin_2fa_ms": ("a sign-in with a second factor, ms (median)", None, ""),
    "signin_bookkeeping_ms": (
        "a failed sign-in's throttle, lockout and record with a table of failures, ms",
        None,
        "",
    ),
    "signin_bookkeeping_empty_ms": ("the same with no failure stored, ms", None, ""),
    "mail_per_s": ("queued notices sent to a local SMTP server, per s", (">=", 200), "issue 20"),
    "token_auth_ms": ("an API call with a personal access token, ms", None, ""),
    "api_key_auth_ms": ("the same call with an API key, ms", None, ""),
    "token_vs_api_key": ("a token check ÷ an API-key check", ("<=", 1.2), "issue 18"),
    "resume_latency_intervals": (
        "held events start after the lift, processor intervals (max)",
        ("<=", 1.5),
        "SPEC §7",
    ),
    "resume_latency_median_intervals": ("the same, median", None, ""),
    "events_started_after_restriction": (
        "events started after the restriction commit, under ingestion and toggling",
        ("<=", 0),
        "SPEC §7",
    ),
    "restriction_windows": ("on/off windows in that measurement", None, ""),
    "ingest_failures_while_toggling": ("ingestion requests not accepted meanwhile", None, ""),
    "metrics_scrape_ms": ("GET /metrics with about 600,000 events stored, ms", None, ""),
    "metrics_scrape_events_stored": ("events stored during that scrape", None, ""),
    "metrics_scrape_events_live": ("of which counted live", None, ""),
    "ingest_during_purge_ratio": (
        "ingestion while retention purges ÷ ingestion without a purge",
        (">=", 0.7),
        "issue 12",
    ),
    "ingest_during_purge_events_per_s": ("ingestion during the purge, events/s", None, ""),
    "ingest_without_purge_events_per_s": ("ingestion without a purge, events/s", None, ""),
    "purge_rounds_overlapped": ("rounds in which the purge progressed", None, ""),
    "db_growth_after_cycles": (
        "database file over ingest → process → purge cycles (later peak ÷ first)",
        ("<=", 1.1),
        "issue 12",
    ),
    "purge_batch_p99_ms": ("write lock held by one purge batch, p99 ms", None, ""),
    "purge_batch_max_ms": ("the same, max ms", None, ""),
    "open_tabs_cpu_pct": (
        "server CPU of 500 open tabs following the state, % of one core",
        ("<=", 10),
        "issue 10",
    ),
    "open_tabs_polls_per_s": ("polls per second of those tabs", None, ""),
    "open_tabs_floor_cpu_pct": (
        "the same tabs polling a WSGI app that only answers 304, % of one core",
        None,
        "",
    ),
    "open_tabs_vs_floor": ("the portal's poll ÷ that floor", None, ""),
    "webhook_deliveries_per_s": (
        "webhook drain against a 50 ms receiver, deliveries/s",
        (">=", 1_000),
        "SPEC §7",
    ),
    "webhook_share_of_limit": ("the drain ÷ the 2,000/s 100 connections allow", None, ""),
    "webhook_held_events": ("held events released in that drain", None, ""),
    "webhook_fast_endpoint_share_next_to_hanging": (
        "a 50 ms endpoint's rate next to one that never answers ÷ its rate alone",
        (">=", 0.8),
        "issue 9",
    ),
    "processor_rss_growth": (
        "processor memory draining the large backlog ÷ the small one",
        ("<=", 1.5),
        "issue 9",
    ),
    "processor_rss_events": ("the two backlogs, events", None, ""),
    "dashboard_ms_small": ("admin dashboard with 1,000 events, ms", None, ""),
    "dashboard_ms_large": ("admin dashboard with the large held backlog, ms", None, ""),
    "dashboard_growth": ("the dashboard's time, large ÷ small backlog", ("<=", 1.2), "SPEC §7"),
    "dashboard_large_held_events": ("the large held backlog, events", None, ""),
    "history_sample_ms": ("one history sample, ms", None, ""),
    "processor_round_ms": ("one processor round, ms", None, ""),
    "history_sample_overhead_pct": (
        "history samples, % of the processor rounds they cover",
        ("<=", 1),
        "issue 19",
    ),
    "history_sample_vs_one_round_pct": ("one sample, % of one round", None, ""),
    "window_page_ms": ("a 24-hour window's page, ms (median)", None, ""),
    "window_page_dashboard_ms": ("the dashboard in the same run, ms", None, ""),
    "window_page_vs_dashboard": (
        "the window page ÷ the dashboard",
        ("<=", 1.5),
        "issue 19",
    ),
    "window_page_samples": ("samples behind that page", None, ""),
    "pg_ingest_events_per_s": ("PostgreSQL: ingestion in-process, events/s", None, ""),
    "pg_process_events_per_s": ("PostgreSQL: processing, events/s", None, ""),
    "pg_webhook_deliveries_per_s": ("PostgreSQL: webhook drain, deliveries/s", None, ""),
}


def met(value: object, bar: tuple[str, float] | None) -> bool | None:
    """Whether ``value`` meets ``bar`` (None without a bar or a number)."""
    if bar is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    operator, limit = bar
    return value >= limit if operator == ">=" else value <= limit


def figures(results: dict) -> dict[str, dict]:
    """Each key of a run with its value, what it measures, its bar and whether it met it."""
    out = {}
    for key, value in results.items():
        if key == "quick":
            continue
        label, bar, source = FIGURES.get(key, ("", None, ""))
        out[key] = {
            "value": value,
            "label": label,
            "bar": None if bar is None else {"op": bar[0], "limit": bar[1], "source": source},
            "met": met(value, bar),
        }
    return out


def commit() -> str | None:
    """The short commit measured, with ``-dirty`` when the work tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def command_line() -> str:
    """The command as typed, naming PORTAL_TEST_POSTGRES_URI without its password."""
    command = shlex.join(["python", "benchmarks/run.py", *sys.argv[1:]])
    if os.environ.get("PORTAL_TEST_POSTGRES_URI"):
        return f"PORTAL_TEST_POSTGRES_URI=… {command}"
    return command


def write(
    results: dict,
    load_at_start: list[float],
    started: datetime,
    directory: Path = RESULTS,
    note: str = "",
) -> Path:
    """Write one run's results file, named by its start (UTC); return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "date": started.strftime("%Y-%m-%dT%H:%MZ"),
        "commit": commit(),
        "command": command_line(),
        "quick": bool(results.get("quick")),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(terse=True),
        },
        "load_average": {"start": load_at_start, "end": load_average()},
        "note": note,
        "figures": figures(results),
    }
    path = directory / f"{started:%Y-%m-%d-%H%M}.json"
    if path.exists():  # two runs in one minute: keep both
        path = directory / f"{started:%Y-%m-%d-%H%M%S}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def now() -> datetime:
    return datetime.now(UTC)
