"""Real servers for end-to-end tests: a prepared SQLite file, the flask CLI, a server subprocess.

Every process started here is started in its own session and killed by its id at teardown, so
no server outlives the tests.
"""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery"
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def portal_env(db_file: Path, **config: object) -> dict[str, str]:
    """Return the environment of a portal process on ``db_file`` (``PORTAL_*`` overrides)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))}
    env.update(
        FLASK_APP="wsgi",
        PORTAL_SQLALCHEMY_DATABASE_URI=f"sqlite:///{db_file}",
        PORTAL_SECRET_KEY="live-test-secret",
        PORTAL_PROCESSOR_INTERVAL_SECONDS="0.2",
        PORTAL_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8"]',  # the tests' receivers are local
        PYTHONUNBUFFERED="1",
    )
    env.update({f"PORTAL_{key}": str(value) for key, value in config.items()})
    return env


def flask(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run one ``flask`` CLI command; return its output, failing loudly on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"flask {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def last_line(output: str) -> str:
    """Return the last non-empty line (where key-printing commands put the key)."""
    return [line for line in output.splitlines() if line.strip()][-1].strip()


def prepare_db(db_file: Path, **config: object) -> dict[str, str]:
    """Create the schema and the first admin with ``flask setup``; return the environment."""
    env = portal_env(db_file, **config)
    flask(env, "setup", "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD)
    return env


def maintenance_status(env: dict[str, str]) -> dict:
    """Return ``flask maintenance status`` as a dict."""
    return json.loads(flask(env, "maintenance", "status"))


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test run itself is killed (so no teardown runs),
    # the kernel kills the server too instead of leaving it behind.
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if _LIBC is not None else None,
        )
        handle.close()
        return self

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)  # the group we created: the process and its workers

    def kill(self) -> None:
        """Kill -9 the process (and its workers); wait for it."""
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, grace: float = 5.0) -> None:
        """Ask it to stop (SIGTERM), kill it if it does not within ``grace`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class LiveServer(Process):
    """The portal served on a loopback port by ``flask run`` or gunicorn."""

    def __init__(
        self, env: dict[str, str], log: Path, *, workers: int = 0, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if workers:
            args = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", "4"]
            args += ["-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "3", "wsgi:app"]
        else:
            args = [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1"]
            args += ["--port", str(self.port), "--no-reload", "--no-debugger"]
        super().__init__(args, env, log)

    def start(self, timeout: float = 60.0) -> "LiveServer":
        super().start()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                response = requests.get(self.url + "/healthz", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not healthy after {timeout}s:\n{self.output()}")


@contextmanager
def running(server: Process) -> Iterator[Process]:
    """Start ``server`` and make sure it is gone afterwards, whatever happens."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.kill()


@contextmanager
def serving(env: dict[str, str], folder: Path, port: int | None = None) -> Iterator["LiveServer"]:
    """Serve the portal on ``env`` (``flask run``, logging to ``folder``) for the browser tests:
    the server carries its ``env`` and a fresh API key of the default client."""
    server = LiveServer(env, folder / "server.log", port=port)
    server.env = env
    server.api_key = last_line(flask(env, "clients", "rotate-key", "Default"))
    with running(server):
        yield server


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token on the page"
    return match.group(1) or match.group(2)


def sign_in(base_url: str, email: str, password: str = ADMIN_PASSWORD) -> requests.Session:
    """Sign in through the real login form; return the session (signed in or not)."""
    session = requests.Session()
    page = session.get(base_url + "/auth/login", timeout=10)
    session.post(
        base_url + "/auth/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        timeout=30,
    )
    return session


def post_events(base_url: str, key: str, events: list[dict], timeout: float = 30) -> dict:
    """POST a batch of events; return the 202 body (fail on anything else)."""
    response = requests.post(
        base_url + "/api/v1/events",
        json={"events": events},
        headers={"X-API-Key": key},
        timeout=timeout,
    )
    assert response.status_code == 202, (response.status_code, response.text[:500])
    return response.json()


class _SourceAddressAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """Return a requests session whose connections leave from ``address`` (e.g. 127.0.0.2)."""
    session = requests.Session()
    session.trust_env = False
    adapter = _SourceAddressAdapter(address)
    session.mount("http://", adapter)
    return session


def form_post(session: requests.Session, url: str, data: dict, **kw) -> requests.Response:
    """GET ``url`` for its CSRF token, then POST ``data`` with it (redirects not followed)."""
    token = csrf_from(session.get(url, timeout=10).text)
    return session.post(url, data={**data, "csrf_token": token}, allow_redirects=False, **kw)
