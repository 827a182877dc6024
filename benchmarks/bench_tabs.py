"""Open tabs: the server CPU that 500 open pages cost while they follow the maintenance state.

Each simulated tab keeps one HTTP/1.1 connection and polls ``/live/state`` every
``POLL_SECONDS`` with ``If-None-Match`` (what ``static/live.js`` does); the server answers
``304`` while nothing changed. We read the CPU time of the gunicorn master and workers from
``/proc`` before and after a measured stretch: percent of one core = CPU seconds / wall seconds.
"""

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import requests
from bench_setup import PASSWORD, ROOT, env_for, free_port

from portal.maintenance.live import POLL_PATH, POLL_SECONDS

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) of ``pid`` and its children that are alive."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def start_server(
    db_file: Path, workers: int, app: str = "wsgi:app"
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-k",
            "gthread",
            "-w",
            str(workers),
            "--threads",
            "4",
            "--keep-alive",
            "30",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env=env_for(db_file, PROCESSOR_ENABLED="false"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


async def tab(port: int, cookie: str, stop: float, counts: dict) -> None:
    """One open page: poll with the last tag until ``stop`` (a monotonic time)."""
    await asyncio.sleep(random.uniform(0, POLL_SECONDS))
    tag, reader, writer = "", None, None
    while time.monotonic() < stop:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = (
            f"GET {POLL_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n"
            f"Cookie: {cookie}\r\n" + (f'If-None-Match: "{tag}"\r\n' if tag else "") + "\r\n"
        )
        writer.write(request.encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        length, close = 0, False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "etag":
                tag = value.strip().strip('W/"')
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length:
            await reader.readexactly(length)
        counts[status] = counts.get(status, 0) + 1
        if close:
            writer.close()
            writer = None
        await asyncio.sleep(POLL_SECONDS)
    if writer is not None:
        writer.close()


async def run_tabs(port: int, cookie: str, tabs: int, seconds: float, server_pid: int):
    counts: dict[int, int] = {}
    warmup = POLL_SECONDS + 1.0  # every tab has its tag by then
    stop = time.monotonic() + warmup + seconds
    tasks = [asyncio.create_task(tab(port, cookie, stop, counts)) for _ in range(tabs)]
    await asyncio.sleep(warmup)
    before, started = cpu_seconds(server_pid), time.monotonic()
    polled_before = sum(counts.values())
    await asyncio.sleep(seconds)
    used, wall = cpu_seconds(server_pid) - before, time.monotonic() - started
    polled = sum(counts.values()) - polled_before
    await asyncio.gather(*tasks, return_exceptions=True)
    return 100.0 * used / wall, polled / wall, counts


def bench_floor(db_file: Path, tabs: int, seconds: float, workers: int) -> float:
    """Return the CPU (percent of one core) of the same tabs polling ``floor_app``: gunicorn's
    own cost, measured in the same run so the portal's figure can be read against it."""
    server, port = start_server(db_file, workers, app="benchmarks.floor_app:app")
    try:
        pct, _rate, _counts = asyncio.run(run_tabs(port, "", tabs, seconds, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return pct


def bench_open_tabs(db_file: Path, tabs: int, seconds: float, workers: int) -> dict:
    """Return the server CPU (percent of one core) of ``tabs`` open pages, and poll figures."""
    server, port = start_server(db_file, workers)
    try:
        session = requests.Session()
        base = f"http://127.0.0.1:{port}"
        page = session.get(base + "/auth/login", timeout=10).text
        token = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
        session.post(
            base + "/auth/login",
            data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token},
            timeout=30,
        )
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        time.sleep(0.5)
        idle_before, idle_start = cpu_seconds(server.pid), time.monotonic()
        time.sleep(2.0)
        idle = 100.0 * (cpu_seconds(server.pid) - idle_before) / (time.monotonic() - idle_start)
        pct, rate, counts = asyncio.run(run_tabs(port, cookie, tabs, seconds, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"cpu_pct": pct, "idle_pct": idle, "polls_per_s": rate, "counts": counts}
