"""Queueing mail: a row per message in the caller's transaction (the caller commits)."""

from datetime import datetime

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.mail import configured
from portal.mail.messages import Rendered
from portal.models.mail import CANCELLED, PENDING, OutboxMessage

_rows = OutboxMessage.__table__


def enqueue(
    topic: str,
    to: str,
    message: Rendered,
    *,
    send_after: datetime | None = None,
    window_id: int | None = None,
) -> bool:
    """Queue ``message`` to ``to``; return False (nothing queued) while mail is off."""
    return enqueue_many(topic, [(to, message)], send_after=send_after, window_id=window_id) == 1


def enqueue_many(
    topic: str,
    messages: list[tuple[str, Rendered]],
    *,
    send_after: datetime | None = None,
    window_id: int | None = None,
) -> int:
    """Queue several messages in one statement; return how many (0 while mail is off)."""
    if not configured() or not messages:
        return 0
    now = utc_now()
    rows = [
        {
            "created_at": now,
            "topic": topic,
            "to_address": to,
            "subject": rendered.subject[:255],
            "text_body": rendered.text,
            "html_body": rendered.html,
            "status": PENDING,
            "next_attempt_at": max(send_after or now, now),
            "attempts": 0,
            "window_id": window_id,
        }
        for to, rendered in messages
    ]
    db.session.execute(sa.insert(_rows), rows)
    return len(rows)


def cancel_pending(topic: str) -> int:
    """Cancel the messages of ``topic`` not sent yet (kept, marked cancelled); return how many."""
    result = db.session.execute(
        sa.update(_rows)
        .where(_rows.c.topic == topic, _rows.c.status == PENDING)
        .values(status=CANCELLED)
    )
    return result.rowcount
