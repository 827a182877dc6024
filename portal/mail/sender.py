"""Sending the outbox: a round of the processor's process (see ``portal.events.runner``).

Only the processor-lease holder sends, so several processes never send one message twice.
Due messages go out over one SMTP connection; each try is a ``MailAttempt`` row. A temporary
failure (no connection, a 4xx answer) retries with a doubling backoff up to
``MAIL_MAX_ATTEMPTS``; a permanent refusal (5xx) marks the message failed at once. Results are
committed every few messages, so a crash resends at most those (never loses one).
"""

import email.policy
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app

from portal.clock import utc_now
from portal.extensions import db
from portal.mail import configured
from portal.mail.messages import build
from portal.models.mail import FAILED, PENDING, SENT, MailAttempt, OutboxMessage

COMMIT_EVERY = 50
MAX_BACKOFF = timedelta(hours=1)
ROUND_BUDGET_SECONDS = 5.0
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


def deliver(smtp: smtplib.SMTP, message: EmailMessage) -> str:
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
    code, answer = smtp.data(message.as_bytes(policy=email.policy.SMTP))
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
    if holder is not None:
        from portal.events import lease

        if not lease.acquire(holder):
            return report
    deadline = time.monotonic() + budget_seconds
    size = int(current_app.config["MAIL_BATCH_SIZE"])
    while time.monotonic() < deadline:
        batch = list(
            db.session.scalars(
                sa.select(OutboxMessage)
                .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= utc_now())
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(size)
            )
        )
        if not batch or not _send_batch(batch, report, deadline) or len(batch) < size:
            break
    db.session.commit()
    return report


def _send_batch(batch: list[OutboxMessage], report: Report, deadline: float) -> bool:
    """Send ``batch`` over one connection; return False when the server could not be reached."""
    try:
        smtp = connect()
    except (OSError, smtplib.SMTPException) as exc:
        for message in batch:
            _record(message, report, describe_error(exc), ok=False)
        db.session.commit()
        return False
    try:
        for done, message in enumerate(batch, 1):
            try:
                answer = deliver(
                    smtp,
                    build(
                        message.to_address, message.subject, message.text_body, message.html_body
                    ),
                )
            except Permanent as exc:
                _record(message, report, str(exc), ok=False, permanent=True)
            except (OSError, smtplib.SMTPException) as exc:
                _record(message, report, describe_error(exc), ok=False)
                if isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
                    db.session.commit()
                    return False  # the connection is gone: the rest wait for the next round
            else:
                _record(message, report, answer, ok=True)
            if done % COMMIT_EVERY == 0:
                db.session.commit()
            if time.monotonic() > deadline:
                break
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    db.session.commit()
    return True


def _record(
    message: OutboxMessage, report: Report, answer: str, *, ok: bool, permanent: bool = False
) -> None:
    now = utc_now()
    message.attempts += 1
    db.session.add(MailAttempt(message_id=message.id, at=now, ok=ok, answer=answer[:2000]))
    if ok:
        message.status, message.sent_at, message.last_error = SENT, now, None
        if message.topic in SCRUBBED_TOPICS:
            message.text_body = message.html_body = ""
        report.sent += 1
        return
    message.last_error = answer[:2000]
    if permanent or message.attempts >= int(current_app.config["MAIL_MAX_ATTEMPTS"]):
        message.status = FAILED
        report.failed += 1
        return
    backoff = float(current_app.config["MAIL_BACKOFF_SECONDS"]) * 2 ** (message.attempts - 1)
    message.next_attempt_at = now + min(timedelta(seconds=backoff), MAX_BACKOFF)
    report.retrying += 1


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
