"""Run the processor: as an APScheduler job inside a serving process, or in the foreground.

Every process that runs it competes for the lease; only the holder does work, so several
web workers and a ``flask processor run`` never process the same event twice.
"""

import atexit
import logging
import os
import signal
import sys
import threading

import click
from apscheduler.executors.pool import ThreadPoolExecutor
from flask import Flask

from portal.events import hooks, lease
from portal.events.guard import stopping
from portal.events.processor import tick
from portal.events.webhooks.pump import Pump
from portal.extensions import scheduler

log = logging.getLogger(__name__)
TICK_JOB = "event-processor"
HEARTBEAT_JOB = "event-processor-heartbeat"
_lock = threading.Lock()
_running: dict = {}  # "holder" and "pump" while the processor runs in this process


def serving_process() -> bool:
    """Return whether this process serves requests: a WSGI server importing ``wsgi.py``, or
    ``flask run`` (only the reloader's child when the reloader is on). Never other commands."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True  # imported by a WSGI server such as gunicorn
    if ctx.info_name != "run":
        return False  # flask setup, flask maintenance ..., flask shell, ...
    reload = ctx.params.get("reload")
    if reload is None:
        from flask.helpers import get_debug_flag

        reload = get_debug_flag()
    return not reload or os.environ.get("WERKZEUG_RUN_MAIN") == "true"


def autostart(app: Flask) -> bool:
    """Start the in-process processor if enabled and this process serves requests."""
    if not app.config.get("PROCESSOR_ENABLED") or not serving_process():
        return False
    _exit_cleanly_on_sigterm()
    return start(app)


def _exit_cleanly_on_sigterm() -> None:
    """Let SIGTERM run the atexit hooks (and so release the lease) under ``flask run``.

    Servers that handle SIGTERM themselves (gunicorn workers) keep their handler.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))


def start(app: Flask) -> bool:
    """Schedule the processor tick and the lease heartbeat on the shared BackgroundScheduler,
    and start the webhook pump on its own thread (calls never hold up a tick)."""
    with _lock:
        if _running:
            return False
        holder = lease.new_holder_id()
        interval = float(app.config["PROCESSOR_INTERVAL_SECONDS"])
        ttl = float(app.config["PROCESSOR_LEASE_TTL_SECONDS"])
        options = {"max_instances": 1, "coalesce": True, "replace_existing": True}
        pump = Pump(app, holder)
        added = hooks.of(app)

        def tick_and_nudge(holder: str) -> None:
            # each batch's new deliveries go out at once, not at the pump's next look
            if tick(holder, on_batch=pump.nudge).holder:
                added.after_tick(pump.calls_in_flight())

        tick_and_nudge.__name__ = "tick"
        scheduler.add_job(
            _job(app, holder, tick_and_nudge), "interval", seconds=interval, id=TICK_JOB, **options
        )
        scheduler.add_job(
            _job(app, holder, lease.heartbeat),
            "interval",
            seconds=ttl / 3,
            id=HEARTBEAT_JOB,
            **options,
        )
        for job_id, function in added.jobs.items():  # the outbox round (portal.mail), ...
            scheduler.add_job(
                _job(app, holder, function), "interval", seconds=interval, id=job_id, **options
            )
        stopping.clear()
        # A round longer than the interval makes APScheduler skip runs with a warning each time.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        if not scheduler.running:
            scheduler.start()
        _running["holder"] = holder
        _running["pump"] = pump
        pump.start()
        atexit.register(stop, app)
    log.info("Event processor started as %s (every %.2fs).", holder, interval)
    return True


def stop(app: Flask) -> None:
    """Stop the jobs, wait for a running tick, and release the lease (clean shutdown)."""
    with _lock:
        holder = _running.pop("holder", None)
        pump = _running.pop("pump", None)
        if holder is None:
            return
        stopping.set()
        if pump is not None:
            pump.stop()  # calls in flight finish and are recorded while we still hold the lease
        if scheduler.running:
            scheduler.shutdown(wait=True)
            # shutdown() closes the executor's thread pool for good, and start() does not open
            # a new one: give the scheduler a fresh pool so a later start() runs its jobs.
            scheduler.remove_executor("default", shutdown=False)
            scheduler.add_executor(ThreadPoolExecutor(), "default")
    with app.app_context():
        lease.release(holder)
    stopping.clear()  # stopped: a later start (or a one-off tick) runs normally
    log.info("Event processor %s stopped; lease released.", holder)


def _job(app: Flask, holder: str, function):
    def run() -> None:
        with app.app_context():
            try:
                function(holder)
            except Exception:  # keep the schedule alive; the next tick retries
                log.exception("Event processor %s failed", function.__name__)

    run.__name__ = f"{function.__name__}_job"
    return run
