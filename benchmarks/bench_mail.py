"""Mail: how fast the outbox drains into a local SMTP server (aiosmtpd on 127.0.0.1)."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from bench_setup import log, make_app

from portal.extensions import db
from portal.mail import outbox
from portal.mail.messages import render
from portal.mail.sender import send_round
from portal.maintenance import notices
from portal.models import OutboxMessage


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the local SMTP server did not start")


def bench_mail(folder: Path, messages: int = 5000) -> float:
    """Queue ``messages`` maintenance notices, then time processor rounds sending them all;
    return messages per second (queueing not counted)."""
    port = _free_port()
    # its own process, as a real mail server is: no share of this one's interpreter lock
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
        + ["-l", f"127.0.0.1:{port}"]
    )
    _wait_for(port)
    db_file = folder / "mail.db"
    app = make_app(
        db_file,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_FROM="portal@example.com",
        PUBLIC_URL="https://portal.example.com",
    )
    try:
        result = app.test_cli_runner().invoke(args=["setup", "--admin-password", "bench-pass-1"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            context = {"kind": "started", "message": "Database upgrade.", "start": ""}
            subject = notices.SUBJECTS["started"]
            batch = [
                (
                    f"user{n}@example.com",
                    render("maintenance", subject, bypass=n % 5 == 0, **context),
                )
                for n in range(messages)
            ]
            outbox.enqueue_many(notices.STARTED, batch)
            db.session.commit()
            started = time.perf_counter()
            while send_round().sent:
                pass
            elapsed = time.perf_counter() - started
            sent = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "sent")
            )
            db.engine.dispose()
    finally:
        server.terminate()
        server.wait()
    assert sent == messages, (sent, messages)
    rate = messages / elapsed
    log(f"mail: {messages:,} queued notices sent to a local SMTP server at {rate:,.0f}/s")
    return rate
