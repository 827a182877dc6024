"""The production setup: gunicorn with gunicorn.conf.py, its start message and clean shutdown."""

import signal
import sqlite3
import sys
import time

import pytest
import requests

from tests.live import Process, free_port, prepare_db

pytestmark = pytest.mark.slow


def _lease_holder(db_file) -> str | None:
    connection = sqlite3.connect(db_file)
    try:
        row = connection.execute("SELECT holder FROM processor_lease").fetchone()
    finally:
        connection.close()
    return row[0] if row else None


def test_gunicorn_conf_serves_names_its_database_and_releases_the_lease(tmp_path):
    db_file = tmp_path / "portal.db"
    env = prepare_db(db_file)
    port = free_port()
    env.update(PORTAL_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2")
    server = Process(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        env,
        tmp_path / "gunicorn.log",
    ).start()
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        state = None
        for _ in range(300):
            try:
                state = requests.get(url, timeout=2).json()["event_processor"]
            except requests.RequestException:
                state = None
            if state == "running":
                break
            time.sleep(0.1)
        assert state == "running", server.output()
        holder = _lease_holder(db_file)
        assert holder
        output = server.output()
        assert f"database sqlite:///{db_file}" in output
        assert "event processor on" in output
        assert output.count("Booting worker") == 2

        server.signal(signal.SIGTERM)
        server.proc.wait(timeout=40)
        assert server.proc.returncode == 0, server.output()
        # released at shutdown (not left to expire): the lease row names nobody
        assert _lease_holder(db_file) is None, server.output()
        assert "lease released if held" in server.output()
    finally:
        server.kill()


def test_start_message_says_when_the_processor_is_off(tmp_path):
    db_file = tmp_path / "portal.db"
    env = prepare_db(db_file, PROCESSOR_ENABLED="false")
    port = free_port()
    env.update(PORTAL_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    server = Process(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        env,
        tmp_path / "gunicorn.log",
    ).start()
    try:
        for _ in range(300):
            if "event processor off here" in server.output():
                break
            time.sleep(0.1)
        assert "event processor off here (PROCESSOR_ENABLED is false)" in server.output()
    finally:
        server.stop()
        server.kill()


def test_processor_run_names_its_database_without_the_password(tmp_path):
    db_file = tmp_path / "portal.db"
    env = prepare_db(db_file)
    process = Process(
        [sys.executable, "-m", "flask", "processor", "run"], env, tmp_path / "processor.log"
    ).start()
    try:
        for _ in range(300):
            if "Event processor running" in process.output():
                break
            time.sleep(0.1)
        assert f"on sqlite:///{db_file}; stop with Ctrl+C." in process.output()
    finally:
        process.stop()
        process.kill()


def test_the_start_line_hides_the_database_password(tmp_path):
    from portal.operations.server import describe
    from tests.conftest import make_app

    app = make_app(
        tmp_path / "unused.db",
        tmp_path / "instance",
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://portal:s3cret@db.internal/portal",
        PROCESSOR_ENABLED=False,
    )
    line = describe(app)
    assert "s3cret" not in line and "portal:***@db.internal/portal" in line
    assert "event processor off here" in line
