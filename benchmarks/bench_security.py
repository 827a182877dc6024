"""Sign-in bookkeeping under attack (the throttle and lockout checks with many failures stored),
and what a second factor adds to a whole sign-in."""

import re
import statistics
import time

import pyotp
import sqlalchemy as sa

from portal import accounts
from portal.accounts import twofactor
from portal.accounts.passwords import hash_password
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import SignInFailure, TwoFactor, User
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


def bench_signin_2fa_ratio(app, rounds: int) -> tuple[float, float]:
    """Median milliseconds of a whole sign-in through the forms (the form page, the password
    POST, and for the second user the code page and the code POST), without and with a second
    factor, interleaved; return (without, with)."""
    password = "bench-horse-battery-staple"
    token_re = re.compile(r'name="csrf_token" type="hidden" value="([^"]*)"')

    def token(page: str) -> str:  # the benchmark's app may run without CSRF
        match = token_re.search(page)
        return match[1] if match else ""

    with app.app_context():
        admin = accounts.find_user("admin@example.com")
        for email in ("plain@bench.example", "second@bench.example"):
            if accounts.find_user(email) is None:
                user = User(
                    email=email,
                    password_hash=hash_password(password),
                    client=admin.client,
                    roles=list(admin.roles),
                    groups=list(admin.groups),
                )
                db.session.add(user)
        db.session.flush()
        second = accounts.find_user("second@bench.example")
        secret = twofactor.pending_secret(second)
        twofactor.confirm(second, pyotp.TOTP(secret).now())
        db.session.commit()

    def sign_in(client, email: str, with_code: bool) -> None:
        page = client.get("/auth/login").get_data(as_text=True)
        data = {"email": email, "password": password, "csrf_token": token(page)}
        response = client.post("/auth/login", data=data)
        if with_code:
            page = client.get(response.headers["Location"]).get_data(as_text=True)
            code = {"code": pyotp.TOTP(secret).now(), "csrf_token": token(page)}
            response = client.post("/auth/two-factor", data=code)
        assert response.status_code == 302 and "/auth/" not in response.headers["Location"]

    plain, second_factor = [], []
    for _ in range(rounds):
        for timings, email, with_code in (
            (plain, "plain@bench.example", False),
            (second_factor, "second@bench.example", True),
        ):
            client = app.test_client()
            with app.app_context():  # untimed: this round may reuse the step's code
                db.session.execute(sa.update(TwoFactor).values(last_step=None))
                db.session.commit()
            started = time.perf_counter()
            sign_in(client, email, with_code)
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(plain), statistics.median(second_factor)
