"""Shared pieces of the benchmarks: a prepared database, event rows, a gunicorn server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portal import accounts, clients, create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models.tables import lease  # noqa: E402

PASSWORD = "benchmark-password"
BATCH = 1000


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_app(db_file: Path, **config):
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "SECRET_KEY": "benchmark",
        "PROCESSOR_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
    }
    settings.update(config)
    return create_app(settings, instance_path=str(db_file.parent / "instance"))


def prepare(db_file: Path, uri: str | None = None) -> tuple[object, str, int]:
    """Create the schema and admin; return the app, the Default client's API key and its id.

    ``uri`` puts the database elsewhere (PostgreSQL) instead of the SQLite file ``db_file``.
    """
    app = make_app(db_file, **({"SQLALCHEMY_DATABASE_URI": uri} if uri else {}))
    result = app.test_cli_runner().invoke(args=["setup", "--admin-password", PASSWORD])
    assert result.exit_code == 0, result.output
    with app.app_context():
        client = accounts.find_client(accounts.DEFAULT_CLIENT)
        key = clients.rotate_api_key(client)
        db.session.commit()
        return app, key, client.id


def event_rows(start: int, count: int) -> list[dict]:
    return [
        {
            "type": "sensor.reading",
            "payload": {"device": f"dev-{n % 50}", "temp": 20 + n % 7, "seq": n},
            "source_id": f"src-{n}",
        }
        for n in range(start, start + count)
    ]


def env_for(db_file: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        FLASK_APP="wsgi",
        PORTAL_SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_file}",
        PORTAL_SECRET_KEY="benchmark",
    )
    env.update({f"PORTAL_{k}": str(v) for k, v in extra.items()})
    return env


def start_gunicorn(db_file: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            # sync workers, as the figures were always measured, whatever gunicorn.conf.py says
            "--worker-class",
            "sync",
            "--threads",
            "1",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env_for(db_file, PROCESSOR_ENABLED="false"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def wait_for_lease(engine: sa.Engine, seconds: float = 30.0) -> None:
    """Wait until the processor has started and holds the lease (start-up is slow under load)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(sa.select(lease.c.holder)).scalar():
                return
        time.sleep(0.05)
    raise RuntimeError("the processor did not take the lease")
