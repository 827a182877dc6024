"""Sending the outbox: a round of the processor's process (see ``portal.events.runner``).

Only the processor-lease holder sends, so several processes never send one message twice.
Due messages go out over one SMTP connection; each try is a ``MailAttempt`` row. A temporary
failure (no connection, a 4xx answer) retries with a doubling backoff up to
``MAIL_MAX_ATTEMPTS``; a permanent refusal (5xx) marks the message failed at once. Results are
committed every few messages, so a crash resends at most those (never loses one).
"""

import queue
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app

from portal.core.clock import utc_now
from portal.events import lease
from portal.extensions import db
from portal.mail import configured
from portal.mail.messages import build
from portal.models.mail import FAILED, PENDING, SENT, MailAttempt, OutboxMessage

COMMIT_EVERY = 50
MAX_BACKOFF = timedelta(hours=1)
ROUND_BUDGET_SECONDS = 5.0
# The outbox round runs as a job of its own beside the processor's: a slow server holds no tick.
MAIL_JOB = "mail-sender"
# A sent password-reset link is not kept in the outbox (the database is no place for it).
SCRUBBED_TOPICS = {"password-reset"}


class Permanent(Exception):
    """The server refused the message for good (a 5xx answer)."""


@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def connect() -> smtplib.SMTP:
    """Open an SMTP connection with the configured TLS and login."""
    config = current_app.config
    host, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
    timeout = float(config["MAIL_TIMEOUT_SECONDS"])
    if config["MAIL_USE_TLS"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config["MAIL_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    except Exception:
        smtp.close()
        raise
    return smtp


def deliver(smtp: smtplib.SMTP, message: Message) -> str:
    """Send ``message`` over ``smtp``; return the server's answer to it (one line).

    Raise :class:`Permanent` on a 5xx refusal, ``smtplib.SMTPException`` or ``OSError`` else.
    """
    smtp.ehlo_or_helo_if_needed()
    sender = parseaddr(message["From"])[1]
    recipient = parseaddr(message["To"])[1]
    for command, argument, accepted in (("mail", sender, (250,)), ("rcpt", recipient, (250, 251))):
        code, answer = getattr(smtp, command)(argument)
        if code not in accepted:
            smtp.rset()
            _refuse(code, answer)
    code, answer = smtp.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    if code != 250:
        smtp.rset()
        _refuse(code, answer)
    return one_line(code, answer)


def _refuse(code: int, answer: bytes) -> None:
    text = one_line(code, answer)
    if code >= 500:
        raise Permanent(text)
    raise smtplib.SMTPResponseException(code, text)


def one_line(code: int, answer: bytes | str) -> str:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    return f"{code} {' '.join(text.split())}"


def describe_error(exc: BaseException) -> str:
    """Return an error as one line (the server's answer when there was one)."""
    if isinstance(exc, smtplib.SMTPDataError | smtplib.SMTPResponseException):
        return one_line(exc.smtp_code, exc.smtp_error)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def send_round(holder: str | None = None, budget_seconds: float = ROUND_BUDGET_SECONDS) -> Report:
    """Send due messages for up to ``budget_seconds``; as ``holder`` only while it holds the
    processor lease (None: the caller is the only sender, e.g. the benchmark)."""
    report = Report()
    if not configured():
        return report
    if holder is not None and not lease.acquire(holder):
        return report
    deadline = time.monotonic() + budget_seconds
    size = int(current_app.config["MAIL_BATCH_SIZE"])
    while time.monotonic() < deadline:
        batch = db.session.execute(
            sa.select(*_COLUMNS)
            .where(_rows.c.status == PENDING, _rows.c.next_attempt_at <= utc_now())
            .order_by(_rows.c.next_attempt_at, _rows.c.id)
            .limit(size)
        ).all()
        db.session.commit()  # no read transaction stays open while the server answers
        if not batch or not _send_batch(batch, _Results(report), deadline) or len(batch) < size:
            break
    return report


_rows = OutboxMessage.__table__
_attempts = MailAttempt.__table__
_COLUMNS = (
    _rows.c.id,
    _rows.c.topic,
    _rows.c.to_address,
    _rows.c.subject,
    _rows.c.text_body,
    _rows.c.html_body,
    _rows.c.attempts,
)
_UPDATE = (
    sa.update(_rows)
    .where(_rows.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        attempts=sa.bindparam("b_attempts"),
        next_attempt_at=sa.bindparam("b_next"),
        last_error=sa.bindparam("b_error"),
        sent_at=sa.bindparam("b_sent"),
    )
)


def _send_batch(batch: list, results: "_Results", deadline: float) -> bool:
    """Send ``batch`` over up to ``MAIL_CONNECTIONS`` connections at once (each message waits
    for several answers of the server; the connections overlap those waits); record the
    outcomes here, in this thread. Return False when the server could not be reached."""
    app = current_app._get_current_object()
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for row in batch:
        todo.put(row)
    done: queue.SimpleQueue = queue.SimpleQueue()
    count = max(1, min(int(app.config["MAIL_CONNECTIONS"]), len(batch) // 20 or 1))
    threads = [
        threading.Thread(target=_connection, args=(app, todo, done, deadline), daemon=True)
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    ended, unreachable, broken = 0, [], False
    while ended < count:
        kind, row, text = done.get()
        if kind == "end":
            ended += 1
        elif kind == "down":
            unreachable.append(text)
        else:
            results.add(row, text, ok=kind == "ok", permanent=kind == "permanent")
            broken = broken or kind == "broken"
            if len(results.updates) >= COMMIT_EVERY:
                results.write()
    for thread in threads:
        thread.join()
    if len(unreachable) == count:  # no connection at all: every message tried records why
        while not todo.empty():
            results.add(todo.get(), unreachable[0], ok=False)
    results.write()
    return not unreachable and not broken


def _connection(app, todo: queue.SimpleQueue, done: queue.SimpleQueue, deadline: float) -> None:
    """Send messages from ``todo`` over one connection until it is empty or the time is up."""
    with app.app_context():
        try:
            smtp = connect()
        except (OSError, smtplib.SMTPException) as exc:
            done.put(("down", None, describe_error(exc)))
            done.put(("end", None, None))
            return
        try:
            while time.monotonic() < deadline:
                try:
                    row = todo.get_nowait()
                except queue.Empty:
                    break
                try:
                    message = build(row.to_address, row.subject, row.text_body, row.html_body)
                    done.put(("ok", row, deliver(smtp, message)))
                except Permanent as exc:
                    done.put(("permanent", row, str(exc)))
                except (OSError, smtplib.SMTPException) as exc:
                    gone = isinstance(exc, OSError | smtplib.SMTPServerDisconnected)
                    done.put(("broken" if gone else "retry", row, describe_error(exc)))
                    if gone:
                        break  # the rest wait for the next round
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
            done.put(("end", None, None))


class _Results:
    """The outcomes of sent messages, written (and committed) a few at a time."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.updates: list[dict] = []
        self.attempts: list[dict] = []
        self.scrub: list[int] = []
        self.max_attempts = int(current_app.config["MAIL_MAX_ATTEMPTS"])
        self.backoff = float(current_app.config["MAIL_BACKOFF_SECONDS"])

    def add(self, row, answer: str, *, ok: bool, permanent: bool = False) -> None:
        now = utc_now()
        attempts = row.attempts + 1
        self.attempts.append({"message_id": row.id, "at": now, "ok": ok, "answer": answer[:2000]})
        update = {
            "b_id": row.id,
            "b_attempts": attempts,
            "b_status": PENDING,
            "b_next": now,
            "b_error": None if ok else answer[:2000],
            "b_sent": now if ok else None,
        }
        if ok:
            update["b_status"] = SENT
            self.report.sent += 1
            if row.topic in SCRUBBED_TOPICS:
                self.scrub.append(row.id)
        elif permanent or attempts >= self.max_attempts:
            update["b_status"] = FAILED
            self.report.failed += 1
        else:
            backoff = timedelta(seconds=self.backoff * 2 ** (attempts - 1))
            update["b_next"] = now + min(backoff, MAX_BACKOFF)
            self.report.retrying += 1
        self.updates.append(update)

    def write(self) -> None:
        if self.updates:
            db.session.execute(_UPDATE, self.updates)
            db.session.execute(sa.insert(_attempts), self.attempts)
        if self.scrub:
            db.session.execute(
                sa.update(_rows)
                .where(_rows.c.id.in_(self.scrub))
                .values(text_body="", html_body="")
            )
        db.session.commit()
        self.updates, self.attempts, self.scrub = [], [], []


def send_now(to: str, subject: str, text: str, html: str) -> str:
    """Send one message at once, outside the outbox (``flask mail test``); return the answer."""
    smtp = connect()
    try:
        return deliver(smtp, build(to, subject, text, html))
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
