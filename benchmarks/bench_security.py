"""Sign-in bookkeeping under attack: the throttle and lockout checks with many failures stored."""

import statistics
import time

import sqlalchemy as sa

from portal import accounts
from portal.clock import utc_now
from portal.extensions import db
from portal.models import SignInFailure
from portal.security import signins


def fill_failures(app, rows: int, addresses: int) -> None:
    """Store ``rows`` recent failed sign-ins from ``addresses`` addresses (a botnet's traces)."""
    with app.app_context():
        user = accounts.find_user("admin@example.com")
        now = utc_now()
        table = SignInFailure.__table__
        for start in range(0, rows, 10_000):
            batch = [
                {
                    "at": now,
                    "address": f"10.{n % addresses // 65536}.{n % 65536 // 256}.{n % 256}",
                    "user_id": user.id if n % 3 == 0 else None,
                }
                for n in range(start, min(rows, start + 10_000))
            ]
            db.session.execute(sa.insert(table), batch)
        db.session.commit()


def bench_signin_bookkeeping(app, attempts: int) -> float:
    """Median milliseconds of one failed sign-in's bookkeeping: throttle, lockout, record."""
    timings = []
    with app.app_context():
        user = accounts.find_user("admin@example.com")
        for n in range(attempts):
            address = f"192.0.2.{n % 200}"
            started = time.perf_counter()
            now = utc_now()
            signins.reserve(address, user, now, known_device=False)  # checks, holds, commits
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)
