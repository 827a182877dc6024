"""The cost of a personal access token check: one authenticated API call, token against key."""

import statistics
import time

from portal import accounts
from portal.accounts import tokens
from portal.extensions import db

URL = "/api/v1/maintenance"


def bench_token_auth(app, key: str, calls: int) -> tuple[float, float]:
    """Return the median milliseconds of ``GET /api/v1/maintenance`` with a token and with the
    client's API key, interleaved in one run (same app, same state)."""
    with app.app_context():
        admin = accounts.find_user("admin@example.com")
        _token, secret = tokens.create(admin, "bench", [tokens.MAINTENANCE_READ], 1, None)
        db.session.commit()
    client = app.test_client()
    headers = {"token": {"Authorization": f"Bearer {secret}"}, "key": {"X-API-Key": key}}
    timings: dict[str, list[float]] = {"token": [], "key": []}
    for _ in range(20):  # warm up both paths
        for name in headers:
            assert client.get(URL, headers=headers[name]).status_code == 200
    for _ in range(calls):
        for name in headers:
            started = time.perf_counter()
            response = client.get(URL, headers=headers[name])
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return statistics.median(timings["token"]), statistics.median(timings["key"])
