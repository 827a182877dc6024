"""The per-address throttle and the lockout hold across gunicorn worker processes and threads
(counts in the database, each attempt held before its password is checked)."""

import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    csrf_from,
    form_post,
    portal_env,
    prepare_db,
    running,
    session_from,
)
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)

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


BURST = 50


def counting_workers(server: LiveServer, checks: Path) -> LiveServer:
    # Two worker processes with eight threads each: up to 16 sign-ins at once, in two processes.
    server.args = [sys.executable, "-m", "gunicorn", "-c", "tests/password_check_counter.py"]
    server.args += ["-k", "gthread", "-w", "2", "--threads", "8", "--timeout", "120"]
    server.args += ["-b", f"127.0.0.1:{server.port}", "--graceful-timeout", "3", "wsgi:app"]
    server.env = {**server.env, "PASSWORD_CHECKS_FILE": str(checks)}
    return server


def burst(url: str, emails: list[str]) -> list[requests.Response]:
    """Sign in with a wrong password as every email at once, from one address."""
    sessions = [session_from(ATTACKER) for _ in emails]
    tokens = [csrf_from(s.get(url, timeout=30).text) for s in sessions]
    start = threading.Barrier(len(emails))

    def post(n: int) -> requests.Response:
        data = {"email": emails[n], "password": "wrong", "csrf_token": tokens[n]}
        start.wait()
        return sessions[n].post(url, data=data, allow_redirects=False, timeout=120)

    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        return list(pool.map(post, range(len(emails))))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("rule", ["lockout", "throttle"])
def test_parallel_wrong_sign_ins_check_no_more_passwords_than_the_limit(
    tmp_path: Path, request, database: str, rule: str
):
    """Issue 17.4: 50 wrong sign-ins at once from one address, over two gunicorn workers with
    threads: no more passwords are checked than the retry limit (one account) or the throttle
    (many emails) allows; the rest are refused without a check."""
    if database == "postgresql":
        uri = request.getfixturevalue("pg_app").config["SQLALCHEMY_DATABASE_URI"]
        env = portal_env(tmp_path / "unused.db", SQLALCHEMY_DATABASE_URI=uri)
    else:
        env = prepare_db(tmp_path / "portal.db")
        uri = env["PORTAL_SQLALCHEMY_DATABASE_URI"]
    if rule == "lockout":  # the default client's retry limit; the throttle out of the way
        limit, emails = 5, [ADMIN_EMAIL] * BURST
        env["PORTAL_LOGIN_THROTTLE"] = "1000 per 5 minutes"
    else:  # unknown emails: only the address's throttle stops them
        limit, emails = LIMIT, [f"guess{n}@example.com" for n in range(BURST)]
        env["PORTAL_LOGIN_THROTTLE"] = f"{LIMIT} per 5 minutes"
    env["PORTAL_PROCESSOR_ENABLED"] = "false"
    checks = tmp_path / "checks.log"
    checks.touch()
    server = counting_workers(LiveServer(env, tmp_path / "gunicorn.log"), checks)
    with running(server):
        responses = burst(server.url + "/auth/login", emails)
    engine = sa.create_engine(uri)
    with engine.connect() as conn:
        query = sa.text("SELECT password_hash FROM users WHERE email = :email")
        admin_hash = conn.scalar(query, {"email": ADMIN_EMAIL})
    engine.dispose()
    checked = checks.read_text().splitlines()
    pages = [r.text for r in responses]
    assert all(r.status_code in (200, 429) for r in responses), [r.status_code for r in responses]
    wrong = sum("Invalid email or password." in page for page in pages)
    if rule == "lockout":
        # Every answer is a refusal; only the first `limit` can have checked the password.
        assert 1 <= wrong <= limit, f"{wrong} answers came from a password check"
        assert 1 <= checked.count(admin_hash) <= limit, "the account's hash was checked too often"
        locked = sum("temporarily locked" in page for page in pages)
        assert wrong + locked == BURST
    else:
        assert 1 <= wrong <= limit, f"{wrong} sign-ins got past the throttle"
        assert 1 <= len(checked) <= limit, f"{len(checked)} password hashes were checked"
        assert sum(r.status_code == 429 for r in responses) == BURST - wrong
