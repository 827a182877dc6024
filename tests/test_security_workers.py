"""The per-address throttle holds across two gunicorn worker processes (counts in the database)."""

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    form_post,
    prepare_db,
    running,
    session_from,
)

pytestmark = pytest.mark.slow

LIMIT = 8
ATTACKER = "127.0.0.3"


def sync_workers(server: LiveServer) -> LiveServer:
    # One request at a time per worker: concurrent sign-ins must be spread over both workers.
    server.args = [sys.executable, "-m", "gunicorn", "-k", "sync", "--threads", "1", "-w", "2"]
    server.args += ["-b", f"127.0.0.1:{server.port}", "--graceful-timeout", "3"]
    server.args += ["--access-logfile", "-", "--access-logformat", "pid=%(p)s %(r)s %(s)s"]
    server.args += ["wsgi:app"]
    return server


def test_throttle_counts_across_two_gunicorn_workers(tmp_path: Path):
    env = prepare_db(tmp_path / "portal.db", LOGIN_THROTTLE=f"{LIMIT} per 5 minutes")
    server = sync_workers(LiveServer(env, tmp_path / "gunicorn.log", workers=2))
    with running(server):
        login = server.url + "/auth/login"

        def fail(n: int) -> int:
            session = session_from(ATTACKER)
            data = {"email": f"guess{n}@example.com", "password": "wrong"}
            return form_post(session, login, data, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(fail, range(LIMIT)))
        assert statuses == [200] * LIMIT
        attacker = session_from(ATTACKER)
        response = form_post(attacker, login, {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
        owner = session_from("127.0.0.1")
        response = form_post(owner, login, {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert response.status_code == 302
        log = server.output()
    pids = set(re.findall(r"pid=<?(\d+)>? POST /auth/login \S+ 200", log))
    assert len(pids) == 2, f"the sign-ins were not spread over both workers:\n{log[-2000:]}"
