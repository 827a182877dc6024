"""``flask processor run`` as a real process: kill -9 mid-batch, clean shutdown, and where the
in-process processor starts."""

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import click
import pytest
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events import runner as runner_module
from portal.extensions import db
from portal.models import Delivery, Event
from portal.models.tables import lease as lease_table
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    body_json,
    post_events,
    run_tick,
    webhook_server,
)
from tests.live import portal_env

ROOT = Path(__file__).resolve().parents[2]


def _env(db_path: Path, **extra) -> dict:
    return portal_env(
        db_path, PROCESSOR_INTERVAL_SECONDS=0.1, PROCESSOR_LEASE_TTL_SECONDS=2, **extra
    )


def _flask(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def _lease_holder(app):
    with app.app_context():
        return db.session.execute(sa.select(lease_table.c.holder)).scalar()


def _expire_lease(app) -> None:
    """Let the lease of a dead processor run out (instead of waiting for its TTL)."""
    with app.app_context():
        db.session.execute(sa.update(lease_table).values(expires_at=utc_now() - timedelta(1)))
        db.session.commit()


def _check_nothing_lost_or_done_early(app, ids: list[int]) -> int:
    """Assert the invariants after a crash; return how many events are processed."""
    with app.app_context():
        rows = db.session.execute(sa.select(Event.id, Event.status)).all()
        delivered = db.session.execute(
            sa.select(Delivery.event_id, sa.func.count())
            .where(Delivery.status == "succeeded")
            .group_by(Delivery.event_id)
        ).all()
    assert sorted(row.id for row in rows) == ids  # nothing lost
    done = {row.id for row in rows if row.status == "processed"}
    complete = {event_id for event_id, count in delivered if count == 2}
    assert done <= complete  # nothing processed without both its actions
    return len(done)


@pytest.mark.slow
def test_repeated_kill_9_loses_nothing_and_marks_nothing_done_early(app, client, tmp_path, db_path):
    with webhook_server() as (url, server):
        add_workflow(app, name="log")
        add_workflow(app, action="webhook", url=url, secret="k", name="hook")
        ids = post_events(
            client,
            api_key(app),
            {"events": [{"type": "t", "payload": {"n": i}} for i in range(300)]},
        ).get_json()["event_ids"]
        env = _env(db_path, PROCESSOR_BATCH_SIZE=25)
        for calls in (40, 100):
            _expire_lease(app)
            process = _flask(env, "processor", "run")
            try:
                _wait_for(lambda calls=calls: server.count >= calls)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
            assert 0 < _check_nothing_lost_or_done_early(app, ids) < len(ids)  # killed mid-run
        sent_before = {body_json(r)["id"]: r["headers"]["Idempotency-Key"] for r in server.requests}

        # Another processor finishes the work once the dead one's lease has run out.
        _expire_lease(app)
        for _ in range(50):
            if _check_nothing_lost_or_done_early(app, ids) == len(ids):
                break
            run_tick(app, "successor")
        with app.app_context():
            statuses = db.session.scalars(sa.select(Event.status)).all()
            deliveries = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery))
        assert set(statuses) == {"processed"}
        assert deliveries == 2 * len(ids)
        keys: dict[int, set] = {}
        for request in server.requests:
            keys.setdefault(body_json(request)["id"], set()).add(
                request["headers"]["Idempotency-Key"]
            )
        assert sorted(keys) == ids  # every event's webhook went out at least once
        assert all(len(k) == 1 for k in keys.values())  # a re-sent call keeps its key
        assert all(keys[event_id] == {key} for event_id, key in sent_before.items())


@pytest.mark.slow
def test_sigterm_releases_the_lease(app, tmp_path, db_path):
    process = _flask(_env(db_path), "processor", "run")
    try:
        _wait_for(lambda: _lease_holder(app) is not None)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert _lease_holder(app) is None


START_PROBE = """
import sys
from flask.cli import cli
from portal.events import runner
try:
    cli.main(args=sys.argv[1:], prog_name="flask", standalone_mode=False)
finally:
    print("PROCESSOR-STARTED" if runner._running else "PROCESSOR-NOT-STARTED")
    runner._running and runner.stop(__import__("wsgi").app)
"""


@pytest.mark.slow
@pytest.mark.parametrize("command", [["setup"], ["routes"]])
def test_one_shot_commands_do_not_start_the_processor(tmp_path, db_path, command):
    result = subprocess.run(
        [sys.executable, "-c", START_PROBE, *command],
        cwd=ROOT,
        env=_env(db_path, PROCESSOR_ENABLED="true"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "PROCESSOR-NOT-STARTED" in result.stdout, result.stdout + result.stderr


def test_serving_processes_are_recognised(monkeypatch):
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert runner_module.serving_process()  # no click context: a WSGI server imports wsgi.py
    for name, params, serving in [
        ("setup", {}, False),
        ("run", {"reload": False}, True),
        ("run", {"reload": True}, False),  # the reloader's watcher process
    ]:
        with click.Context(click.Command(name), info_name=name) as ctx:
            ctx.params = params
            assert runner_module.serving_process() is serving
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    with click.Context(click.Command("run"), info_name="run") as ctx:
        ctx.params = {"reload": True}
        assert runner_module.serving_process()  # the reloader's serving child


def test_disabled_processor_never_starts(app, runner):
    assert app.config["PROCESSOR_ENABLED"] is False
    assert runner_module.autostart(app) is False
    result = runner.invoke(args=["processor", "run"])
    assert result.exit_code != 0
    assert "disabled" in result.output


@pytest.mark.slow
def test_a_wsgi_server_importing_wsgi_starts_the_processor(tmp_path, db_path):
    probe = "import wsgi\nfrom portal.events import runner\nprint(bool(runner._running))\n"
    probe += "runner.stop(wsgi.app)\n"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=_env(db_path, PROCESSOR_ENABLED="true"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "True", result.stdout + result.stderr


@pytest.mark.slow
def test_kill_9_with_500_calls_in_flight_loses_nothing_and_keeps_webhook_ids(app, client, db_path):
    recorder = Recorder()
    recorder.delay = 1.0
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET, name="hook")
        key = api_key(app)
        ids: list[int] = []
        for start in range(0, 3000, 1000):  # enough work to widen the window to 500 calls
            batch = [{"type": "t", "payload": {"n": start + i}} for i in range(1000)]
            ids += post_events(client, key, {"events": batch}).get_json()["event_ids"]
        process = _flask(
            _env(db_path, WEBHOOK_CONCURRENCY=500, PROCESSOR_BATCH_SIZE=1000), "processor", "run"
        )
        try:
            _wait_for(lambda: recorder.in_flight >= 500, timeout=60)
            killed_in_flight = recorder.in_flight
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        assert killed_in_flight >= 500
        assert server.count < len(ids)  # killed mid-drain
        recorder.delay = 0.05
        app.config["WEBHOOK_CONCURRENCY"] = 500
        _expire_lease(app)
        for _ in range(20):
            run_tick(app, "successor")
            with app.app_context():
                queued = db.session.scalar(
                    sa.select(sa.func.count()).select_from(Event).where(Event.status == "queued")
                )
            if not queued:
                break
    with app.app_context():
        statuses = set(db.session.scalars(sa.select(Event.status)))
        deliveries = dict(db.session.execute(sa.select(Delivery.event_id, Delivery.id)).all())
    assert statuses == {"processed"}
    assert sorted(deliveries) == ids  # one delivery per event, nothing lost
    keys: dict[int, set] = {}
    for request in server.requests:
        keys.setdefault(body_json(request)["id"], set()).add(request["headers"]["webhook-id"])
    assert sorted(keys) == ids
    assert all(keys[event_id] == {str(deliveries[event_id])} for event_id in ids)
    assert server.count > len(ids)  # the calls in flight at the kill were sent again


def test_a_processor_stopped_and_started_again_in_one_process_runs_its_rounds(app, client):
    """APScheduler's shutdown closes its thread pool for good: a second start in the same
    process (a test, an embedded restart) must get a fresh one and run its ticks again."""
    app.config.update(PROCESSOR_INTERVAL_SECONDS=0.1)
    key = api_key(app)
    for round_ in range(2):
        assert runner_module.start(app)
        try:
            post_events(client, key, {"events": [{"type": f"again-{round_}"}]})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with app.app_context():
                    waiting = sa.select(sa.func.count()).where(Event.status == "queued")
                    queued = db.session.scalar(waiting)
                    db.session.remove()
                if queued == 0:
                    break
                time.sleep(0.1)
            assert queued == 0, f"start number {round_ + 1} ran no round"
        finally:
            runner_module.stop(app)
