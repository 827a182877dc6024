"""The deploy script (docs/automation.md; curl and jq) against gunicorn with webhook calls in
flight: no call reaches the receiver between ``wait=paused`` answering and the lift."""

import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Delivery, Event
from tests.conftest import make_app
from tests.events_support import add_workflow
from tests.live import ROOT, LiveServer, flask, last_line, post_events, prepare_db, running

SCRIPT = ROOT / "scripts" / "deploy-maintenance.sh"


class Receiver(BaseHTTPRequestHandler):
    received: list[float] = []

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append(time.time())
        time.sleep(0.3)  # slow enough that calls are in flight when maintenance begins
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args):
        pass


def _lift(output: str) -> float:
    return float(next(line for line in output.splitlines() if line.startswith("lift-at "))[8:])


# CI installs both (.ci/run); a run there that would skip the script's test fails instead.
HAVE_TOOLS = bool(shutil.which("curl") and shutil.which("jq"))
NEEDS_CURL_AND_JQ = pytest.mark.skipif(
    not HAVE_TOOLS and os.environ.get("CI") != "true", reason="needs curl and jq"
)


@pytest.mark.slow  # starts a subprocess
@NEEDS_CURL_AND_JQ
def test_the_script_enables_waits_until_quiet_migrates_and_lifts(tmp_path):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    db_file = tmp_path / "portal.db"
    env = prepare_db(db_file, PROCESSOR_ENABLED="true", WEBHOOK_CONCURRENCY=20)
    app = make_app(db_file, tmp_path / "instance")
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    add_workflow(app, name="hook", action="webhook", url=url, secret="whsec_" + "A" * 32)
    token = last_line(
        flask(
            env,
            "tokens",
            "create",
            "admin@example.com",
            "--name",
            "deploy",
            "--scope",
            "maintenance:read",
            "--scope",
            "maintenance:write",
            "--scope",
            "events:read",
        )
    )
    key = last_line(flask(env, "clients", "rotate-key", "Default"))
    server = LiveServer(env, tmp_path / "gunicorn.log", workers=2)
    with running(server):
        post_events(server.url, key, [{"type": "t", "payload": {"n": n}} for n in range(300)])
        deadline = time.monotonic() + 30
        while len(Receiver.received) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Receiver.received, "no webhook call started"
        result = subprocess.run(
            ["sh", str(SCRIPT)],
            env={
                "PATH": "/usr/bin:/bin",
                "PORTAL_URL": server.url,
                "PORTAL_TOKEN": token,
                "MIGRATE": "sleep 1.5",
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        # "drained" means done: nothing queued, no delivery pending, every call received
        with app.app_context():
            queued = db.session.scalar(
                sa.select(sa.func.count()).select_from(Event).where(Event.status == "queued")
            )
            pending = db.session.scalar(
                sa.select(sa.func.count()).select_from(Delivery).where(Delivery.status == "pending")
            )
            db.session.remove()
        assert (queued, pending) == (0, 0), result.stdout
        assert len(Receiver.received) >= 300
        deadline = time.monotonic() + 30  # the held deliveries go out after the lift
        while not any(
            at > time.time() - 60 and at > _lift(result.stdout) for at in Receiver.received
        ):
            assert time.monotonic() < deadline, "no held delivery went out after the lift"
            time.sleep(0.1)
    lines = dict(
        line.split(" ", 1)
        for line in result.stdout.splitlines()
        if line.endswith(tuple("0123456789")) and " " in line
    )
    quiet, lift = float(lines["quiet-at"]), float(lines["lift-at"])
    during = [at for at in Receiver.received if quiet <= at <= lift]
    assert not during, f"{len(during)} webhook calls arrived while the gateway was quiet"
    assert "drained" in result.stdout
    receiver.shutdown()


@pytest.mark.slow  # starts a subprocess
@NEEDS_CURL_AND_JQ
def test_a_refused_change_stops_the_script(tmp_path):
    """A token without maintenance:write: the PATCH's 403 ends the script at once (no pipe
    hides it), nothing was changed and no migration ran."""
    env = prepare_db(tmp_path / "portal.db")
    token = last_line(
        flask(
            env,
            "tokens",
            "create",
            "admin@example.com",
            "--name",
            "reader",
            "--scope",
            "maintenance:read",
            "--scope",
            "events:read",
        )
    )
    server = LiveServer(env, tmp_path / "gunicorn.log", workers=1)
    with running(server):
        result = subprocess.run(
            ["sh", str(SCRIPT)],
            env={
                "PATH": "/usr/bin:/bin",
                "PORTAL_URL": server.url,
                "PORTAL_TOKEN": token,
                "MIGRATE": f"touch {tmp_path / 'migrated'}",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    assert "maintenance:write" in result.stderr
    assert "quiet-at" not in result.stdout and not (tmp_path / "migrated").exists()
    assert '"enabled": false' in flask(env, "maintenance", "status")
