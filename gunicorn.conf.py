"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py wsgi:app`` (``make serve``).

Environment: ``PORTAL_BIND`` (default 127.0.0.1:8000, put a reverse proxy in front),
``WEB_CONCURRENCY`` (workers), ``PORTAL_THREADS`` (threads per worker), ``FORWARDED_ALLOW_IPS``
(the proxy's address), ``PORTAL_ACCESS_LOG``. The portal's ``PORTAL_*`` settings apply as usual.
"""

import os
import sys

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
# SQLite has one writer at a time: a few workers with threads serve a small team best; on
# PostgreSQL raise WEB_CONCURRENCY (about 2 x cores) and run the processor on its own.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1), 4)))
worker_class = "gthread"
threads = int(os.environ.get("PORTAL_THREADS", 4))
timeout = 60  # a large ingestion batch or a slow scrape must not get the worker killed
# The in-process processor finishes its current step and releases its lease on shutdown;
# give it the time of a webhook call (WEBHOOK_TIMEOUT_SECONDS) and a batch before SIGKILL.
graceful_timeout = 30
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The reverse proxy usually logs requests; PORTAL_ACCESS_LOG=- logs them here too.
accesslog = os.environ.get("PORTAL_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("PORTAL_LOG_LEVEL", "info")
# Not preloaded: each worker imports wsgi.py after the fork, so the processor's scheduler
# threads (started there) live in the worker that uses them.
preload_app = False
# gunicorn 27's control socket has one default path per user, which several instances on a host
# (or a test run) would share; the portal does not use it.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Tell the operator which database this worker uses and whether it runs the processor."""
    from portal.operations.server import describe

    worker.log.info("Worker %s: %s", worker.pid, describe(_app()))


def worker_exit(server, worker) -> None:
    """Stop this worker's processor and release its lease, so another takes over at once."""
    app = _app()
    if app is not None and app.config.get("PROCESSOR_ENABLED"):
        from portal.events import runner

        runner.stop(app)
        worker.log.info("Worker %s: event processor stopped, lease released if held.", worker.pid)


def _app():
    module = sys.modules.get("wsgi")
    return getattr(module, "app", None)
