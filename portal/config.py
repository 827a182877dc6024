"""Configuration: defaults here, then ``instance/config.py``, then ``PORTAL_*`` variables."""

import os
import secrets
import time
from pathlib import Path

from flask import Flask

BOOLEAN_KEYS = (
    "MAINTENANCE_MODE_AVAILABLE",
    "PROCESSOR_ENABLED",
    "HTTPS",
    "MAIL_USE_TLS",
    "MAIL_STARTTLS",
    "REQUIRE_2FA_FOR_MANAGERS",
)
FALSE_WORDS = {"", "0", "false", "no", "off"}


class Defaults:
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled in with the instance folder's file
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    MAINTENANCE_MODE_AVAILABLE = True
    PROCESSOR_ENABLED = True
    PROCESSOR_INTERVAL_SECONDS = 1.0
    PROCESSOR_BATCH_SIZE = 500
    PROCESSOR_LEASE_TTL_SECONDS = 5.0
    WEBHOOK_TIMEOUT_SECONDS = 5.0  # bounds the whole call: connect, send and answer
    WEBHOOK_MAX_ATTEMPTS = 5
    WEBHOOK_BACKOFF_SECONDS = 1.0
    WEBHOOK_CONCURRENCY = 100
    WEBHOOK_RETRY_AFTER_MAX_SECONDS = 300.0
    WEBHOOK_CIRCUIT_FAILURES = 20  # consecutive failed calls that pause an endpoint (0: never)
    # ... and for at least this long: a burst of calls in flight that time out together is one
    # bad moment of the receiver, not a dead endpoint
    WEBHOOK_CIRCUIT_SECONDS = 30.0
    INGEST_MAX_EVENTS = 1000
    RETENTION_BATCH_SIZE = 500  # events deleted per transaction (bounds the write-lock time)
    RETENTION_SECONDS_PER_TICK = 0.5
    RETENTION_CHECK_SECONDS = 30.0  # after a look found nothing expired
    RETENTION_VACUUM_PAGES = 2048  # free SQLite pages given back per purge pass at most
    HISTORY_SAMPLE_SECONDS = 10.0  # the charts' history: a sample this often (0: none)
    HISTORY_KEEP_HOURS = 48.0  # then only maintenance windows keep theirs ...
    HISTORY_COARSE_SECONDS = 60  # ... merged into one sample per this many seconds
    METRICS_TOKEN: str | None = None  # serve GET /metrics to "Authorization: Bearer <token>"
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024
    REMEMBER_COOKIE_DURATION = 14 * 24 * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # Security (portal.security): failed sign-ins per address, the proxies in front, HTTPS.
    LOGIN_THROTTLE = "30 per 5 minutes"
    TRUSTED_PROXIES = 0
    HTTPS = False
    # Every holder of client_settings:manage must sign in with a second factor
    # (portal.accounts.twofactor).
    REQUIRE_2FA_FOR_MANAGERS = False
    PASSWORD_MIN_SCORE = 2  # zxcvbn score (0-4) a new password needs; 2 refuses the guessable
    WEBHOOK_ALLOWED_NETWORKS: list[str] = []  # CIDRs beyond the public internet, e.g. 127.0.0.0/8
    # Mail (portal.mail): off while MAIL_SERVER or MAIL_FROM is unset. MAIL_USE_TLS: TLS from
    # the first byte (port 465); MAIL_STARTTLS: upgrade a plain connection (port 587).
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_STARTTLS = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_FROM: str | None = None
    MAIL_TIMEOUT_SECONDS = 10.0
    MAIL_MAX_ATTEMPTS = 8  # then the message is marked failed (kept, with every attempt)
    MAIL_BACKOFF_SECONDS = 30.0  # doubled after each failed attempt, at most an hour
    MAIL_BATCH_SIZE = 500
    MAIL_CONNECTIONS = 4  # SMTP connections a round sends over at once
    PUBLIC_URL = "http://localhost:5000"  # the instance's address in emails (links)
    PASSWORD_RESET_THROTTLE = "5 per 15 minutes"  # noqa: S105 (reset requests per address)
    USERS_PER_PAGE = 25
    AUDIT_PER_PAGE = 50


def load_config(app: Flask, overrides: dict | None = None) -> None:
    """Apply defaults, ``instance/config.py``, ``PORTAL_*`` variables and overrides, in order."""
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PORTAL")
    if overrides:
        app.config.update(overrides)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
            app.instance_path, "portal.db"
        )
    app.config["PROCESSOR_INTERVAL_SECONDS"] = float(app.config["PROCESSOR_INTERVAL_SECONDS"])
    app.config["MAIL_PORT"] = int(app.config["MAIL_PORT"])
    for key in BOOLEAN_KEYS:
        app.config[key] = _as_bool(app.config[key])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")


def _as_bool(value: object) -> bool:
    """Read a flag; JSON parsing leaves ``False``/``no``/``off`` as (truthy) strings."""
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_WORDS
    return bool(value)


def _instance_secret(path: Path) -> str:
    """Read the generated secret key, creating it once with mode 0600."""
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _read_secret(path: Path) -> str:
    # Another worker may have created the file an instant ago and not written it yet.
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty: delete it or set PORTAL_SECRET_KEY")
